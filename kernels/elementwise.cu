// Per-op elementwise kernels over contiguous buffers of n elements, `<op>_<dtype>`,
// from the device functions of elementwise_ops.cuh (prepended with the prelude).

// ---- kernels -----------------------------------------------------------------------
// Each instantiation takes the dtype's name suffix N (as in Rust's `DType::suffix`) and
// its C type T; they differ only for bool (stored as `cwbool`).

#define CW_UNARY(OP, N, T, R, F) \
    extern "C" __global__ void OP##_##N(const T* __restrict__ x, R* __restrict__ y, u64 n) { \
        CW_FOR(i, n) y[i] = F<T>(x[i]); \
    }
#define CW_BINARY(OP, N, T, R, F) \
    extern "C" __global__ void OP##_##N(const T* __restrict__ a, const T* __restrict__ b, R* __restrict__ y, u64 n) { \
        CW_FOR(i, n) y[i] = F<T>(a[i], b[i]); \
    }

#define CW_ARITH(T) \
    CW_UNARY(neg, T, T, T, cw_neg) CW_UNARY(abs, T, T, T, cw_abs) CW_UNARY(square, T, T, T, cw_square) \
    CW_UNARY(floor, T, T, T, cw_floor) CW_UNARY(ceil, T, T, T, cw_ceil) CW_UNARY(round, T, T, T, cw_round) \
    CW_UNARY(trunc, T, T, T, cw_trunc) CW_UNARY(sign, T, T, T, cw_sign) CW_BINARY(fmod, T, T, T, cw_fmod) \
    CW_BINARY(add, T, T, T, cw_add) CW_BINARY(subtract, T, T, T, cw_sub) CW_BINARY(multiply, T, T, T, cw_mul) \
    CW_BINARY(floor_divide, T, T, T, cw_floor_divide) CW_BINARY(remainder, T, T, T, cw_remainder) \
    CW_BINARY(power, T, T, T, cw_power) CW_BINARY(minimum, T, T, T, cw_minimum) \
    CW_BINARY(maximum, T, T, T, cw_maximum)
#define CW_FLOAT(T) \
    CW_UNARY(sqrt, T, T, T, cw_sqrt) CW_UNARY(exp, T, T, T, cw_exp) CW_UNARY(log, T, T, T, cw_log) \
    CW_UNARY(log1p, T, T, T, cw_log1p) CW_UNARY(expm1, T, T, T, cw_expm1) CW_UNARY(sin, T, T, T, cw_sin) \
    CW_UNARY(cos, T, T, T, cw_cos) CW_UNARY(tan, T, T, T, cw_tan) CW_UNARY(arctan, T, T, T, cw_arctan) \
    CW_UNARY(arcsin, T, T, T, cw_arcsin) CW_UNARY(arccos, T, T, T, cw_arccos) CW_UNARY(sinh, T, T, T, cw_sinh) \
    CW_UNARY(cosh, T, T, T, cw_cosh) CW_UNARY(tanh, T, T, T, cw_tanh) CW_UNARY(arcsinh, T, T, T, cw_arcsinh) \
    CW_UNARY(arccosh, T, T, T, cw_arccosh) CW_UNARY(arctanh, T, T, T, cw_arctanh) \
    CW_UNARY(log2, T, T, T, cw_log2) CW_UNARY(log10, T, T, T, cw_log10) CW_UNARY(exp2, T, T, T, cw_exp2) \
    CW_UNARY(cbrt, T, T, T, cw_cbrt) CW_UNARY(deg2rad, T, T, T, cw_deg2rad) \
    CW_UNARY(rad2deg, T, T, T, cw_rad2deg) \
    CW_BINARY(divide, T, T, T, cw_divide) CW_BINARY(arctan2, T, T, T, cw_arctan2) \
    CW_BINARY(hypot, T, T, T, cw_hypot)
#define CW_LOGIC(N, T) \
    CW_UNARY(logical_not, N, T, cwbool, cw_logical_not) CW_UNARY(isnan, N, T, cwbool, cw_isnan_op) \
    CW_UNARY(isfinite, N, T, cwbool, cw_isfinite) \
    CW_BINARY(equal, N, T, cwbool, cw_equal) CW_BINARY(not_equal, N, T, cwbool, cw_not_equal) \
    CW_BINARY(less, N, T, cwbool, cw_less) CW_BINARY(less_equal, N, T, cwbool, cw_less_equal) \
    CW_BINARY(greater, N, T, cwbool, cw_greater) CW_BINARY(greater_equal, N, T, cwbool, cw_greater_equal) \
    CW_BINARY(logical_and, N, T, cwbool, cw_logical_and) CW_BINARY(logical_or, N, T, cwbool, cw_logical_or) \
    CW_BINARY(logical_xor, N, T, cwbool, cw_logical_xor)

CW_ARITH(i8) CW_ARITH(i16) CW_ARITH(i32) CW_ARITH(i64)
CW_ARITH(u8) CW_ARITH(u16) CW_ARITH(u32) CW_ARITH(u64)
CW_ARITH(f32) CW_ARITH(f64)
CW_FLOAT(f32) CW_FLOAT(f64)
CW_LOGIC(i8, i8) CW_LOGIC(i16, i16) CW_LOGIC(i32, i32) CW_LOGIC(i64, i64)
CW_LOGIC(u8, u8) CW_LOGIC(u16, u16) CW_LOGIC(u32, u32) CW_LOGIC(u64, u64)
CW_LOGIC(f32, f32) CW_LOGIC(f64, f64) CW_LOGIC(bool, cwbool)

// Casts (NumPy's: float → int truncates toward zero; anything → bool is != 0) and fills.
#define CW_CAST(N, T, RN, R) \
    extern "C" __global__ void cast_##N##_##RN(const T* __restrict__ x, R* __restrict__ y, u64 n) { \
        CW_FOR(i, n) y[i] = (R)x[i]; \
    }
#define CW_CAST_TO_BOOL(N, T) \
    extern "C" __global__ void cast_##N##_bool(const T* __restrict__ x, cwbool* __restrict__ y, u64 n) { \
        CW_FOR(i, n) y[i] = x[i] != (T)0; \
    }
#define CW_CASTS_FROM(N, T) \
    CW_CAST_TO_BOOL(N, T) CW_CAST(N, T, i8, i8) CW_CAST(N, T, i16, i16) CW_CAST(N, T, i32, i32) \
    CW_CAST(N, T, i64, i64) CW_CAST(N, T, u8, u8) CW_CAST(N, T, u16, u16) CW_CAST(N, T, u32, u32) \
    CW_CAST(N, T, u64, u64) CW_CAST(N, T, f32, f32) CW_CAST(N, T, f64, f64)
CW_CASTS_FROM(i8, i8) CW_CASTS_FROM(i16, i16) CW_CASTS_FROM(i32, i32) CW_CASTS_FROM(i64, i64)
CW_CASTS_FROM(u8, u8) CW_CASTS_FROM(u16, u16) CW_CASTS_FROM(u32, u32) CW_CASTS_FROM(u64, u64)
CW_CASTS_FROM(f32, f32) CW_CASTS_FROM(f64, f64) CW_CASTS_FROM(bool, cwbool)

#define CW_FILL(N, T) \
    extern "C" __global__ void fill_##N(T* __restrict__ y, T v, u64 n) { CW_FOR(i, n) y[i] = v; }
CW_FILL(i8, i8) CW_FILL(i16, i16) CW_FILL(i32, i32) CW_FILL(i64, i64) CW_FILL(u8, u8) CW_FILL(u16, u16)
CW_FILL(u32, u32) CW_FILL(u64, u64) CW_FILL(f32, f32) CW_FILL(f64, f64) CW_FILL(bool, cwbool)

// abs, floor, ceil, round and trunc of bool are the identity (NumPy keeps bool).
CW_UNARY(abs, bool, cwbool, cwbool, cw_floor) CW_UNARY(floor, bool, cwbool, cwbool, cw_floor)
CW_UNARY(ceil, bool, cwbool, cwbool, cw_floor) CW_UNARY(round, bool, cwbool, cwbool, cw_floor)
CW_UNARY(trunc, bool, cwbool, cwbool, cw_floor)
