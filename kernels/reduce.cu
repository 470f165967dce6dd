// Reductions: the chunk step (block → partial) and the combine step (partial ⊕
// partial), with the partial layouts of src/ops/reduce.rs:
//   Acc      one accumulator (sum/prod: f64 for floats, i64 signed/bool, u64 unsigned;
//            min/max: the input type; any/all: bool; count: i64),
//   Mean     (sum f64, n f64),
//   Moments  (n f64, mean f64, m2 f64), merged with Chan's formula,
//   Arg      (value in the input type, index i64).
// A block is viewed as (outer, red, inner) after merging adjacent axes; out[o, i] is
// the reduction over r of x[o, r, i]. Two shapes of kernel:
//   reduce_<op>_rows_<dtype>  inner == 1: one thread block per (row, segment), threads
//                             striding over the segment (coalesced loads), then a
//                             shared-memory tree; out[s * outer + o] is segment s of
//                             row o (segs > 1 splits long rows over more blocks; the
//                             host merges the segments with the combine kernels);
//   reduce_<op>_cols_<dtype>  inner > 1: one thread per (o, i), looping over r
//                             (neighbouring threads read neighbouring elements).
// Which thread takes which element and the order of the tree are fixed, so a result is
// the same from run to run on one device. (Bool data is reduced by the i8 kernels, as
// the CPU does: the same bytes, and the partials match the CPU's.)

#define CW_THREADS 256
// Rows kernels ask for 4 resident blocks per SM (up to 64 registers a thread) rather
// than the default full occupancy: at 32 registers the 64-bit index arithmetic of the
// arg and moment kernels spilled on sm_80/sm_90.

// ---- accumulator states --------------------------------------------------------------

template <typename A> struct AccState { A v; };
struct MeanState { f64 sum, n; };
struct MomentState { f64 n, mean, m2; };
template <typename T> struct ArgState { T v; i64 idx; };

// Each op: State, init(), step(s, x, index), merge(a, b) (commutative up to rounding:
// arg-min/max break ties by index, not by order), store(s, o0, o1, o2, j), and
// fold(p, count, stride, base, istep): one thread's elements p[0], p[stride], ... with
// indices base, base + istep, ... (by default step by step).
template <typename Op, typename T> struct FoldBySteps {
    static __device__ __forceinline__ auto fold(const T* __restrict__ p, u64 count, u64 stride, i64 base, i64 istep) {
        typename Op::S s = Op::init();
        for (u64 r = 0; r < count; ++r) Op::step(s, p[r * stride], base + (i64)r * istep);
        return s;
    }
};

// sum (PROD false) and prod (PROD true), wrapping for integers; NAN skips NaN.
template <typename T, typename A, bool NAN, bool PROD> struct OpSumProd : FoldBySteps<OpSumProd<T, A, NAN, PROD>, T> {
    typedef AccState<A> S;
    static __device__ __forceinline__ A op(A a, A b) { return PROD ? cw_mul<A>(a, b) : cw_add<A>(a, b); }
    static __device__ __forceinline__ S init() { S s; s.v = PROD ? (A)1 : (A)0; return s; }
    static __device__ __forceinline__ void step(S& s, T x, i64) {
        if (NAN && cw_isnan<T>(x)) return;
        s.v = op(s.v, (A)x);
    }
    static __device__ __forceinline__ S merge(S a, S b) { a.v = op(a.v, b.v); return a; }
    static __device__ __forceinline__ void store(S s, void* o0, void*, void*, u64 j) { ((A*)o0)[j] = s.v; }
};
// min/max propagate NaN; the nan-variants skip it, starting from NaN so that an
// all-NaN slice stays NaN (as the CPU kernel: src/device/cpu/reduce.rs `mm`).
template <typename T, bool MAX, bool NAN> struct OpMinMax : FoldBySteps<OpMinMax<T, MAX, NAN>, T> {
    typedef AccState<T> S;
    static __device__ __forceinline__ S init() {
        S s;
        s.v = (NAN && cw_limits<T>::is_float) ? cw_nan<T>() : (MAX ? cw_limits<T>::lowest() : cw_limits<T>::highest());
        return s;
    }
    static __device__ __forceinline__ T pick(T acc, T x) {
        bool better = MAX ? (x > acc) : (x < acc);
        if (NAN) return (better || cw_isnan<T>(acc)) ? x : acc;
        return (better || cw_isnan<T>(x)) ? x : acc;
    }
    static __device__ __forceinline__ void step(S& s, T x, i64) { s.v = pick(s.v, x); }
    static __device__ __forceinline__ S merge(S a, S b) { a.v = pick(a.v, b.v); return a; }
    static __device__ __forceinline__ void store(S s, void* o0, void*, void*, u64 j) { ((T*)o0)[j] = s.v; }
};
template <typename T, bool ALL> struct OpAnyAll : FoldBySteps<OpAnyAll<T, ALL>, T> {
    typedef AccState<cwbool> S;
    static __device__ __forceinline__ S init() { S s; s.v = ALL ? 1 : 0; return s; }
    static __device__ __forceinline__ void step(S& s, T x, i64) {
        cwbool t = x != (T)0;
        s.v = ALL ? (s.v && t) : (s.v || t);
    }
    static __device__ __forceinline__ S merge(S a, S b) { a.v = ALL ? (a.v && b.v) : (a.v || b.v); return a; }
    static __device__ __forceinline__ void store(S s, void* o0, void*, void*, u64 j) { ((cwbool*)o0)[j] = s.v; }
};
// count: elements that are not NaN (every element of integer and bool data), as the
// CPU's and DESIGN.md's `count`.
template <typename T> struct OpCount : FoldBySteps<OpCount<T>, T> {
    typedef AccState<i64> S;
    static __device__ __forceinline__ S init() { S s; s.v = 0; return s; }
    static __device__ __forceinline__ void step(S& s, T x, i64) { s.v += !cw_isnan<T>(x); }
    static __device__ __forceinline__ S merge(S a, S b) { a.v += b.v; return a; }
    static __device__ __forceinline__ void store(S s, void* o0, void*, void*, u64 j) { ((i64*)o0)[j] = s.v; }
};
template <typename T, bool NAN> struct OpMean : FoldBySteps<OpMean<T, NAN>, T> {
    typedef MeanState S;
    static __device__ __forceinline__ S init() { S s; s.sum = 0.0; s.n = 0.0; return s; }
    static __device__ __forceinline__ void step(S& s, T x, i64) {
        if (NAN && cw_isnan<T>(x)) return;
        s.sum += (f64)x;
        s.n += 1.0;
    }
    static __device__ __forceinline__ S merge(S a, S b) { a.sum += b.sum; a.n += b.n; return a; }
    static __device__ __forceinline__ void store(S s, void* o0, void* o1, void*, u64 j) {
        ((f64*)o0)[j] = s.sum;
        ((f64*)o1)[j] = s.n;
    }
};
template <typename T, bool NAN> struct OpMoments {
    typedef MomentState S;
    // One thread's elements: sums of deviations from its first element (the shifted
    // data algorithm: no division per element, accurate while the shift is near the
    // mean), turned into (n, mean, M2) once.
    static __device__ __forceinline__ S fold(const T* __restrict__ p, u64 count, u64 stride, i64, i64) {
        u64 r = 0;
        if (NAN) while (r < count && cw_isnan<T>(p[r * stride])) ++r;
        if (r == count) return init();
        const f64 k = (f64)p[r * stride];
        f64 n = 0.0, s1 = 0.0, s2 = 0.0;
        for (; r < count; ++r) {
            const T x = p[r * stride];
            if (NAN && cw_isnan<T>(x)) continue;
            const f64 d = (f64)x - k;
            n += 1.0;
            s1 += d;
            s2 += d * d;
        }
        S s = init();
        if (n > 0.0) {
            s.n = n;
            s.mean = k + s1 / n;
            // Clamp rounding below zero, but keep NaN (fmax would drop it).
            const f64 m2 = s2 - s1 * s1 / n;
            s.m2 = m2 < 0.0 ? 0.0 : m2;
        }
        return s;
    }
    static __device__ __forceinline__ S init() { S s; s.n = 0.0; s.mean = 0.0; s.m2 = 0.0; return s; }
    // Welford per element.
    static __device__ __forceinline__ void step(S& s, T x, i64) {
        if (NAN && cw_isnan<T>(x)) return;
        f64 v = (f64)x;
        s.n += 1.0;
        f64 d = v - s.mean;
        s.mean += d / s.n;
        s.m2 += d * (v - s.mean);
    }
    // Chan et al.
    static __device__ __forceinline__ S merge(S a, S b) {
        if (b.n == 0.0) return a;
        if (a.n == 0.0) return b;
        f64 n = a.n + b.n;
        f64 d = b.mean - a.mean;
        S r;
        r.n = n;
        r.mean = a.mean + d * (b.n / n);
        r.m2 = a.m2 + b.m2 + d * d * (a.n * b.n / n);
        return r;
    }
    static __device__ __forceinline__ void store(S s, void* o0, void* o1, void* o2, u64 j) {
        ((f64*)o0)[j] = s.n;
        ((f64*)o1)[j] = s.mean;
        ((f64*)o2)[j] = s.m2;
    }
};
// argmin/argmax: the first best index wins; NaN wins for the plain variants (NumPy).
// The nan-variants let any number beat NaN but still keep a NaN (the first) when a
// slice has nothing else, so the host's finalize step sees it and raises NumPy's
// "All-NaN slice encountered" (as the CPU kernel: src/device/cpu/reduce.rs `wins`).
// Index -1 means nothing was seen.
template <typename T, bool MAX, bool NAN> struct OpArg : FoldBySteps<OpArg<T, MAX, NAN>, T> {
    typedef ArgState<T> S;
    static __device__ __forceinline__ S init() { S s; s.v = (T)0; s.idx = -1; return s; }
    static __device__ __forceinline__ bool better(T a, i64 ia, T b, i64 ib) {
        // Is (b, ib) better than the incumbent (a, ia)?
        if (ib < 0) return false;
        if (ia < 0) return true;
        const bool an = cw_isnan<T>(a), bn = cw_isnan<T>(b);
        if (an || bn) {
            if (an && bn) return ib < ia;
            return NAN ? an : bn;
        }
        if (MAX ? (b > a) : (b < a)) return true;
        return b == a && ib < ia;
    }
    static __device__ __forceinline__ void step(S& s, T x, i64 i) {
        if (better(s.v, s.idx, x, i)) { s.v = x; s.idx = i; }
    }
    static __device__ __forceinline__ S merge(S a, S b) { return better(a.v, a.idx, b.v, b.idx) ? b : a; }
    static __device__ __forceinline__ void store(S s, void* o0, void* o1, void*, u64 j) {
        ((T*)o0)[j] = s.v;
        ((i64*)o1)[j] = s.idx;
    }
};

// ---- the two kernel shapes -------------------------------------------------------------

// One block per (row o, segment s): thread t folds elements lo + t, lo + t + blockDim,
// ... of the segment (neighbouring threads read neighbouring elements), then a tree in
// shared memory in a fixed order. `base` is the index of element 0 along the reduced
// axis (for arg ops over a block that starts inside the array).
template <typename T, typename Op>
__device__ __forceinline__ void reduce_rows(const T* __restrict__ x, u64 outer, u64 red, u64 segs, i64 base, void* o0, void* o1, void* o2) {
    typedef typename Op::S S;
    __shared__ S tile[CW_THREADS];
    for (u64 b = blockIdx.x; b < outer * segs; b += gridDim.x) {
        const u64 o = b % outer, s = b / outer;
        const u64 lo = s * red / segs, hi = (s + 1) * red / segs;
        const u64 t = threadIdx.x;
        const u64 count = hi > lo + t ? (hi - lo - t + blockDim.x - 1) / blockDim.x : 0;
        tile[t] = Op::fold(x + o * red + lo + t, count, blockDim.x, base + (i64)(lo + t), (i64)blockDim.x);
        __syncthreads();
        for (unsigned w = blockDim.x / 2; w > 0; w >>= 1) {
            if (t < w) tile[t] = Op::merge(tile[t], tile[t + w]);
            __syncthreads();
        }
        if (t == 0) Op::store(tile[0], o0, o1, o2, b);
        __syncthreads();
    }
}

template <typename T, typename Op>
__device__ __forceinline__ void reduce_cols(const T* __restrict__ x, u64 outer, u64 red, u64 inner, i64 base, void* o0, void* o1, void* o2) {
    typedef typename Op::S S;
    CW_FOR(j, outer * inner) {
        u64 o = j / inner, i = j % inner;
        Op::store(Op::fold(x + o * red * inner + i, red, inner, base, 1), o0, o1, o2, j);
    }
}

#define CW_REDUCE(NAME, N, T, ...) \
    extern "C" __global__ void __launch_bounds__(CW_THREADS, 4) reduce_##NAME##_rows_##N( \
        const T* __restrict__ x, u64 outer, u64 red, u64 segs, i64 base, void* o0, void* o1, void* o2) { \
        reduce_rows<T, __VA_ARGS__>(x, outer, red, segs, base, o0, o1, o2); \
    } \
    extern "C" __global__ void __launch_bounds__(CW_THREADS) reduce_##NAME##_cols_##N( \
        const T* __restrict__ x, u64 outer, u64 red, u64 inner, i64 base, void* o0, void* o1, void* o2) { \
        reduce_cols<T, __VA_ARGS__>(x, outer, red, inner, base, o0, o1, o2); \
    }

// Every op for one dtype; A is the sum/prod accumulator type.
#define CW_REDUCE_ALL(N, T, A) \
    CW_REDUCE(sum, N, T, OpSumProd<T, A, false, false>) CW_REDUCE(nansum, N, T, OpSumProd<T, A, true, false>) \
    CW_REDUCE(prod, N, T, OpSumProd<T, A, false, true>) CW_REDUCE(nanprod, N, T, OpSumProd<T, A, true, true>) \
    CW_REDUCE(min, N, T, OpMinMax<T, false, false>) CW_REDUCE(nanmin, N, T, OpMinMax<T, false, true>) \
    CW_REDUCE(max, N, T, OpMinMax<T, true, false>) CW_REDUCE(nanmax, N, T, OpMinMax<T, true, true>) \
    CW_REDUCE(any, N, T, OpAnyAll<T, false>) CW_REDUCE(all, N, T, OpAnyAll<T, true>) \
    CW_REDUCE(count, N, T, OpCount<T>) \
    CW_REDUCE(mean, N, T, OpMean<T, false>) CW_REDUCE(nanmean, N, T, OpMean<T, true>) \
    CW_REDUCE(moments, N, T, OpMoments<T, false>) CW_REDUCE(nanmoments, N, T, OpMoments<T, true>) \
    CW_REDUCE(argmin, N, T, OpArg<T, false, false>) CW_REDUCE(nanargmin, N, T, OpArg<T, false, true>) \
    CW_REDUCE(argmax, N, T, OpArg<T, true, false>) CW_REDUCE(nanargmax, N, T, OpArg<T, true, true>)

// ---- instantiations ----------------------------------------------------------------------
// The host builds one program per input dtype: it prepends `#define CW_ONLY 1` and
// `#define CW_KEEP_<dtype>(x) x`, so only that dtype's kernels are instantiated (NVRTC
// took 26 s for the whole file on an H100 host, and the driver loads 1/11 of the PTX).
// Without CW_ONLY (tests/cuda_kernels.rs) every dtype is.
#ifndef CW_ONLY
#define CW_KEEP_bool(x) x
#define CW_KEEP_i8(x) x
#define CW_KEEP_i16(x) x
#define CW_KEEP_i32(x) x
#define CW_KEEP_i64(x) x
#define CW_KEEP_u8(x) x
#define CW_KEEP_u16(x) x
#define CW_KEEP_u32(x) x
#define CW_KEEP_u64(x) x
#define CW_KEEP_f32(x) x
#define CW_KEEP_f64(x) x
#else
#ifndef CW_KEEP_bool
#define CW_KEEP_bool(x)
#endif
#ifndef CW_KEEP_i8
#define CW_KEEP_i8(x)
#endif
#ifndef CW_KEEP_i16
#define CW_KEEP_i16(x)
#endif
#ifndef CW_KEEP_i32
#define CW_KEEP_i32(x)
#endif
#ifndef CW_KEEP_i64
#define CW_KEEP_i64(x)
#endif
#ifndef CW_KEEP_u8
#define CW_KEEP_u8(x)
#endif
#ifndef CW_KEEP_u16
#define CW_KEEP_u16(x)
#endif
#ifndef CW_KEEP_u32
#define CW_KEEP_u32(x)
#endif
#ifndef CW_KEEP_u64
#define CW_KEEP_u64(x)
#endif
#ifndef CW_KEEP_f32
#define CW_KEEP_f32(x)
#endif
#ifndef CW_KEEP_f64
#define CW_KEEP_f64(x)
#endif
#endif

CW_KEEP_bool(CW_REDUCE_ALL(bool, cwbool, i64))
CW_KEEP_i8(CW_REDUCE_ALL(i8, i8, i64)) CW_KEEP_i16(CW_REDUCE_ALL(i16, i16, i64))
CW_KEEP_i32(CW_REDUCE_ALL(i32, i32, i64)) CW_KEEP_i64(CW_REDUCE_ALL(i64, i64, i64))
CW_KEEP_u8(CW_REDUCE_ALL(u8, u8, u64)) CW_KEEP_u16(CW_REDUCE_ALL(u16, u16, u64))
CW_KEEP_u32(CW_REDUCE_ALL(u32, u32, u64)) CW_KEEP_u64(CW_REDUCE_ALL(u64, u64, u64))
CW_KEEP_f32(CW_REDUCE_ALL(f32, f32, f64)) CW_KEEP_f64(CW_REDUCE_ALL(f64, f64, f64))

// ---- combine: partial ⊕ partial, elementwise over n outputs (a := a ⊕ b) ----------------

template <typename A> __device__ __forceinline__ void combine_acc_sum(A* a, const A* b, u64 n) { CW_FOR(j, n) a[j] = cw_add<A>(a[j], b[j]); }
template <typename A> __device__ __forceinline__ void combine_acc_prod(A* a, const A* b, u64 n) { CW_FOR(j, n) a[j] = cw_mul<A>(a[j], b[j]); }
#define CW_COMBINE_ACC(N, A) \
    extern "C" __global__ void combine_sum_##N(A* a, const A* b, u64 n) { combine_acc_sum<A>(a, b, n); } \
    extern "C" __global__ void combine_prod_##N(A* a, const A* b, u64 n) { combine_acc_prod<A>(a, b, n); }
CW_COMBINE_ACC(i64, i64) CW_COMBINE_ACC(u64, u64) CW_COMBINE_ACC(f64, f64)

#define CW_COMBINE_MINMAX(N, T) \
    extern "C" __global__ void combine_min_##N(T* a, const T* b, u64 n) { CW_FOR(j, n) a[j] = OpMinMax<T, false, false>::pick(a[j], b[j]); } \
    extern "C" __global__ void combine_nanmin_##N(T* a, const T* b, u64 n) { CW_FOR(j, n) a[j] = OpMinMax<T, false, true>::pick(a[j], b[j]); } \
    extern "C" __global__ void combine_max_##N(T* a, const T* b, u64 n) { CW_FOR(j, n) a[j] = OpMinMax<T, true, false>::pick(a[j], b[j]); } \
    extern "C" __global__ void combine_nanmax_##N(T* a, const T* b, u64 n) { CW_FOR(j, n) a[j] = OpMinMax<T, true, true>::pick(a[j], b[j]); }
CW_KEEP_bool(CW_COMBINE_MINMAX(bool, cwbool)) CW_KEEP_i8(CW_COMBINE_MINMAX(i8, i8))
CW_KEEP_i16(CW_COMBINE_MINMAX(i16, i16)) CW_KEEP_i32(CW_COMBINE_MINMAX(i32, i32))
CW_KEEP_i64(CW_COMBINE_MINMAX(i64, i64)) CW_KEEP_u8(CW_COMBINE_MINMAX(u8, u8))
CW_KEEP_u16(CW_COMBINE_MINMAX(u16, u16)) CW_KEEP_u32(CW_COMBINE_MINMAX(u32, u32))
CW_KEEP_u64(CW_COMBINE_MINMAX(u64, u64)) CW_KEEP_f32(CW_COMBINE_MINMAX(f32, f32))
CW_KEEP_f64(CW_COMBINE_MINMAX(f64, f64))

extern "C" __global__ void combine_any(cwbool* a, const cwbool* b, u64 n) { CW_FOR(j, n) a[j] = a[j] || b[j]; }
extern "C" __global__ void combine_all(cwbool* a, const cwbool* b, u64 n) { CW_FOR(j, n) a[j] = a[j] && b[j]; }
extern "C" __global__ void combine_count(i64* a, const i64* b, u64 n) { CW_FOR(j, n) a[j] += b[j]; }
extern "C" __global__ void combine_mean(f64* sum, f64* cnt, const f64* bsum, const f64* bcnt, u64 n) {
    CW_FOR(j, n) { sum[j] += bsum[j]; cnt[j] += bcnt[j]; }
}
extern "C" __global__ void combine_moments(f64* an, f64* amean, f64* am2, const f64* bn, const f64* bmean, const f64* bm2, u64 n) {
    CW_FOR(j, n) {
        MomentState a, b;
        a.n = an[j]; a.mean = amean[j]; a.m2 = am2[j];
        b.n = bn[j]; b.mean = bmean[j]; b.m2 = bm2[j];
        MomentState r = OpMoments<f64, false>::merge(a, b);
        an[j] = r.n; amean[j] = r.mean; am2[j] = r.m2;
    }
}
#define CW_COMBINE_ARG(N, T) \
    extern "C" __global__ void combine_argmin_##N(T* av, i64* ai, const T* bv, const i64* bi, u64 n) { \
        CW_FOR(j, n) if (OpArg<T, false, false>::better(av[j], ai[j], bv[j], bi[j])) { av[j] = bv[j]; ai[j] = bi[j]; } } \
    extern "C" __global__ void combine_nanargmin_##N(T* av, i64* ai, const T* bv, const i64* bi, u64 n) { \
        CW_FOR(j, n) if (OpArg<T, false, true>::better(av[j], ai[j], bv[j], bi[j])) { av[j] = bv[j]; ai[j] = bi[j]; } } \
    extern "C" __global__ void combine_argmax_##N(T* av, i64* ai, const T* bv, const i64* bi, u64 n) { \
        CW_FOR(j, n) if (OpArg<T, true, false>::better(av[j], ai[j], bv[j], bi[j])) { av[j] = bv[j]; ai[j] = bi[j]; } } \
    extern "C" __global__ void combine_nanargmax_##N(T* av, i64* ai, const T* bv, const i64* bi, u64 n) { \
        CW_FOR(j, n) if (OpArg<T, true, true>::better(av[j], ai[j], bv[j], bi[j])) { av[j] = bv[j]; ai[j] = bi[j]; } }
CW_KEEP_bool(CW_COMBINE_ARG(bool, cwbool)) CW_KEEP_i8(CW_COMBINE_ARG(i8, i8))
CW_KEEP_i16(CW_COMBINE_ARG(i16, i16)) CW_KEEP_i32(CW_COMBINE_ARG(i32, i32))
CW_KEEP_i64(CW_COMBINE_ARG(i64, i64)) CW_KEEP_u8(CW_COMBINE_ARG(u8, u8))
CW_KEEP_u16(CW_COMBINE_ARG(u16, u16)) CW_KEEP_u32(CW_COMBINE_ARG(u32, u32))
CW_KEEP_u64(CW_COMBINE_ARG(u64, u64)) CW_KEEP_f32(CW_COMBINE_ARG(f32, f32))
CW_KEEP_f64(CW_COMBINE_ARG(f64, f64))
