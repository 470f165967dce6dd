// Elementwise device functions `cw_<op><T>` with the same NumPy semantics as
// src/device/cpu/num.rs (integers wrap, integer // and % by zero give 0, % takes the
// divisor's sign, minimum/maximum propagate NaN, round is half to even). Shared by the
// per-op kernels (elementwise.cu) and the generated kernel of each fused chain
// (src/device/cuda/codegen.rs).

// ---- integer and float arithmetic --------------------------------------------------

template <typename T> __device__ __forceinline__ T cw_add(T a, T b) {
    typedef typename cw_unsigned<T>::type U;
    return cw_limits<T>::is_float ? a + b : (T)((U)a + (U)b);
}
template <typename T> __device__ __forceinline__ T cw_sub(T a, T b) {
    typedef typename cw_unsigned<T>::type U;
    return cw_limits<T>::is_float ? a - b : (T)((U)a - (U)b);
}
template <typename T> __device__ __forceinline__ T cw_mul(T a, T b) {
    typedef typename cw_unsigned<T>::type U;
    return cw_limits<T>::is_float ? a * b : (T)((U)a * (U)b);
}
template <typename T> __device__ __forceinline__ T cw_neg(T a) { return cw_sub<T>((T)0, a); }
template <typename T> __device__ __forceinline__ T cw_abs(T a) { return a < (T)0 ? cw_neg<T>(a) : a; }
template <> __device__ __forceinline__ f32 cw_abs<f32>(f32 a) { return fabsf(a); }
template <> __device__ __forceinline__ f64 cw_abs<f64>(f64 a) { return fabs(a); }
template <typename T> __device__ __forceinline__ T cw_square(T a) { return cw_mul<T>(a, a); }

template <typename T> __device__ __forceinline__ T cw_floor_divide(T a, T b) {
    if (b == (T)0) return (T)0;
    // MIN / -1 wraps to MIN, as NumPy's wrapping division.
    if ((T)-1 < (T)0 && b == (T)-1 && a == cw_limits<T>::lowest()) return a;
    T q = a / b;
    T r = a - q * b;
    return (r != (T)0 && ((r < (T)0) != (b < (T)0))) ? (T)(q - 1) : q;
}
template <typename T> __device__ __forceinline__ T cw_float_floor_divide(T a, T b) {
    if (b == (T)0) return a / b;
    T m = fmod(a, b);
    T d = (a - m) / b;
    if (m != (T)0 && ((b < (T)0) != (m < (T)0))) d -= (T)1;
    if (d == (T)0) return copysign((T)0, a / b);
    T f = floor(d);
    return (d - f > (T)0.5) ? f + (T)1 : f;
}
template <> __device__ __forceinline__ f32 cw_floor_divide<f32>(f32 a, f32 b) { return cw_float_floor_divide<f32>(a, b); }
template <> __device__ __forceinline__ f64 cw_floor_divide<f64>(f64 a, f64 b) { return cw_float_floor_divide<f64>(a, b); }

template <typename T> __device__ __forceinline__ T cw_remainder(T a, T b) {
    if (b == (T)0) return (T)0;
    // x % -1 is 0 (and MIN % -1 would trap).
    if ((T)-1 < (T)0 && b == (T)-1) return (T)0;
    T r = a % b;
    return (r != (T)0 && ((r < (T)0) != (b < (T)0))) ? (T)(r + b) : r;
}
template <typename T> __device__ __forceinline__ T cw_float_remainder(T a, T b) {
    T r = fmod(a, b);
    if (r != (T)0 && ((r < (T)0) != (b < (T)0))) return r + b;
    if (r == (T)0) return copysign((T)0, b);
    return r;
}
template <> __device__ __forceinline__ f32 cw_remainder<f32>(f32 a, f32 b) { return cw_float_remainder<f32>(a, b); }
template <> __device__ __forceinline__ f64 cw_remainder<f64>(f64 a, f64 b) { return cw_float_remainder<f64>(a, b); }

template <typename T> __device__ __forceinline__ T cw_power(T a, T b) {
    if (b < (T)0) {
        // C's integer semantics for negative powers, as the CPU kernel.
        if (a == (T)1) return (T)1;
        if (a == (T)-1) return ((long long)b % 2 != 0) ? a : (T)1;
        return (T)0;
    }
    T r = (T)1;
    T base = a;
    typedef typename cw_unsigned<T>::type U;
    U e = (U)b;
    while (e) {
        if (e & 1) r = cw_mul<T>(r, base);
        base = cw_mul<T>(base, base);
        e >>= 1;
    }
    return r;
}
template <> __device__ __forceinline__ f32 cw_power<f32>(f32 a, f32 b) { return powf(a, b); }
template <> __device__ __forceinline__ f64 cw_power<f64>(f64 a, f64 b) { return pow(a, b); }

template <typename T> __device__ __forceinline__ T cw_minimum(T a, T b) { return (cw_isnan<T>(a) || a < b) ? a : b; }
template <typename T> __device__ __forceinline__ T cw_maximum(T a, T b) { return (cw_isnan<T>(a) || a > b) ? a : b; }
template <typename T> __device__ __forceinline__ T cw_divide(T a, T b) { return a / b; }
template <typename T> __device__ __forceinline__ T cw_arctan2(T a, T b) { return atan2(a, b); }
// In double and rounded once, as the CPU kernel.
template <typename T> __device__ __forceinline__ T cw_hypot(T a, T b) { return (T)hypot((f64)a, (f64)b); }
// C's remainder (sign of the dividend); integer x % 0 and MIN % -1 are 0, as NumPy's.
template <typename T> __device__ __forceinline__ T cw_fmod(T a, T b) {
    if (b == (T)0) return (T)0;
    if ((T)-1 < (T)0 && b == (T)-1) return (T)0;
    return a % b;
}
template <> __device__ __forceinline__ f32 cw_fmod<f32>(f32 a, f32 b) { return fmodf(a, b); }
template <> __device__ __forceinline__ f64 cw_fmod<f64>(f64 a, f64 b) { return fmod(a, b); }
// -1, 0 or 1; NaN stays NaN (no comparison holds), both zeros give +0.
template <typename T> __device__ __forceinline__ T cw_sign(T a) {
    return a > (T)0 ? (T)1 : (a < (T)0 ? (T)-1 : (a == (T)0 ? (T)0 : a));
}

template <typename T> __device__ __forceinline__ T cw_floor(T a) { return a; }
template <typename T> __device__ __forceinline__ T cw_ceil(T a) { return a; }
template <typename T> __device__ __forceinline__ T cw_round(T a) { return a; }
template <typename T> __device__ __forceinline__ T cw_trunc(T a) { return a; }
template <> __device__ __forceinline__ f32 cw_trunc<f32>(f32 a) { return truncf(a); }
template <> __device__ __forceinline__ f64 cw_trunc<f64>(f64 a) { return trunc(a); }
template <> __device__ __forceinline__ f32 cw_floor<f32>(f32 a) { return floorf(a); }
template <> __device__ __forceinline__ f64 cw_floor<f64>(f64 a) { return floor(a); }
template <> __device__ __forceinline__ f32 cw_ceil<f32>(f32 a) { return ceilf(a); }
template <> __device__ __forceinline__ f64 cw_ceil<f64>(f64 a) { return ceil(a); }
// rint rounds half to even in the default rounding mode.
template <> __device__ __forceinline__ f32 cw_round<f32>(f32 a) { return rintf(a); }
template <> __device__ __forceinline__ f64 cw_round<f64>(f64 a) { return rint(a); }

// ---- floating-point only -----------------------------------------------------------

template <typename T> __device__ __forceinline__ T cw_sqrt(T a) { return sqrt(a); }
template <typename T> __device__ __forceinline__ T cw_exp(T a) { return exp(a); }
template <typename T> __device__ __forceinline__ T cw_log(T a) { return log(a); }
template <typename T> __device__ __forceinline__ T cw_log1p(T a) { return log1p(a); }
template <typename T> __device__ __forceinline__ T cw_expm1(T a) { return expm1(a); }
template <typename T> __device__ __forceinline__ T cw_sin(T a) { return sin(a); }
template <typename T> __device__ __forceinline__ T cw_cos(T a) { return cos(a); }
template <typename T> __device__ __forceinline__ T cw_tan(T a) { return tan(a); }
template <typename T> __device__ __forceinline__ T cw_arctan(T a) { return atan(a); }
template <typename T> __device__ __forceinline__ T cw_arcsin(T a) { return asin(a); }
template <typename T> __device__ __forceinline__ T cw_arccos(T a) { return acos(a); }
template <typename T> __device__ __forceinline__ T cw_sinh(T a) { return sinh(a); }
template <typename T> __device__ __forceinline__ T cw_cosh(T a) { return cosh(a); }
template <typename T> __device__ __forceinline__ T cw_tanh(T a) { return tanh(a); }
template <typename T> __device__ __forceinline__ T cw_arcsinh(T a) { return asinh(a); }
template <typename T> __device__ __forceinline__ T cw_arccosh(T a) { return acosh(a); }
template <typename T> __device__ __forceinline__ T cw_arctanh(T a) { return atanh(a); }
template <typename T> __device__ __forceinline__ T cw_log2(T a) { return log2(a); }
template <typename T> __device__ __forceinline__ T cw_log10(T a) { return log10(a); }
template <typename T> __device__ __forceinline__ T cw_exp2(T a) { return exp2(a); }
template <typename T> __device__ __forceinline__ T cw_cbrt(T a) { return cbrt(a); }
// The constants NumPy multiplies by, rounded to T.
template <typename T> __device__ __forceinline__ T cw_deg2rad(T a) { return a * (T)(3.14159265358979323846 / 180.0); }
template <typename T> __device__ __forceinline__ T cw_rad2deg(T a) { return a * (T)(180.0 / 3.14159265358979323846); }

// ---- predicates (→ bool) -----------------------------------------------------------

template <typename T> __device__ __forceinline__ cwbool cw_isnan_op(T a) { return cw_isnan<T>(a); }
template <typename T> __device__ __forceinline__ cwbool cw_isfinite(T a) { return !cw_isnan<T>(a) && a != cw_limits<T>::highest() && a != cw_limits<T>::lowest(); }
template <> __device__ __forceinline__ cwbool cw_isfinite<i8>(i8) { return 1; }
template <> __device__ __forceinline__ cwbool cw_isfinite<i16>(i16) { return 1; }
template <> __device__ __forceinline__ cwbool cw_isfinite<i32>(i32) { return 1; }
template <> __device__ __forceinline__ cwbool cw_isfinite<i64>(i64) { return 1; }
template <> __device__ __forceinline__ cwbool cw_isfinite<u8>(u8) { return 1; }
template <> __device__ __forceinline__ cwbool cw_isfinite<u16>(u16) { return 1; }
template <> __device__ __forceinline__ cwbool cw_isfinite<u32>(u32) { return 1; }
template <> __device__ __forceinline__ cwbool cw_isfinite<u64>(u64) { return 1; }
// Truthiness: NaN is true, as in NumPy.
template <typename T> __device__ __forceinline__ cwbool cw_logical_not(T a) { return !(a != (T)0); }
template <typename T> __device__ __forceinline__ cwbool cw_equal(T a, T b) { return a == b; }
template <typename T> __device__ __forceinline__ cwbool cw_not_equal(T a, T b) { return a != b; }
template <typename T> __device__ __forceinline__ cwbool cw_less(T a, T b) { return a < b; }
template <typename T> __device__ __forceinline__ cwbool cw_less_equal(T a, T b) { return a <= b; }
template <typename T> __device__ __forceinline__ cwbool cw_greater(T a, T b) { return a > b; }
template <typename T> __device__ __forceinline__ cwbool cw_greater_equal(T a, T b) { return a >= b; }
template <typename T> __device__ __forceinline__ cwbool cw_logical_and(T a, T b) { return (a != (T)0) && (b != (T)0); }
template <typename T> __device__ __forceinline__ cwbool cw_logical_or(T a, T b) { return (a != (T)0) || (b != (T)0); }
template <typename T> __device__ __forceinline__ cwbool cw_logical_xor(T a, T b) { return (a != (T)0) != (b != (T)0); }

