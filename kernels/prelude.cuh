// chunkwise CUDA prelude: prepended to every kernel file (NVRTC without a toolkit finds
// no headers). Fixed-width types named like the Rust dtype suffixes, NaN/infinity
// constants, the grid-stride loop, and the NumPy semantics every kernel shares.

typedef signed char i8;
typedef short i16;
typedef int i32;
typedef long long i64;
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef float f32;
typedef double f64;
// bool is stored as one byte, 0 or 1 (NumPy's layout): the same C type as u8, so
// bool kernels are u8 kernels under a `_bool` name.
typedef unsigned char cwbool;

#define CW_NAN_F64 __longlong_as_double(0x7ff8000000000000ULL)
#define CW_INF_F64 __longlong_as_double(0x7ff0000000000000ULL)
#define CW_NAN_F32 __int_as_float(0x7fc00000)
#define CW_INF_F32 __int_as_float(0x7f800000)

// Every thread visits elements i, i + stride, ... below n.
#define CW_FOR(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (u64)(n); i += (u64)blockDim.x * gridDim.x)

template <typename T> struct cw_limits;
#define CW_LIMITS(T, LO, HI, FLOAT) \
    template <> struct cw_limits<T> { \
        static __device__ __forceinline__ T lowest() { return LO; } \
        static __device__ __forceinline__ T highest() { return HI; } \
        static const bool is_float = FLOAT; \
    };
CW_LIMITS(i8, -128, 127, false)
CW_LIMITS(i16, -32768, 32767, false)
CW_LIMITS(i32, (-2147483647 - 1), 2147483647, false)
CW_LIMITS(i64, (-9223372036854775807LL - 1), 9223372036854775807LL, false)
CW_LIMITS(u8, 0, 255, false)
CW_LIMITS(u16, 0, 65535, false)
CW_LIMITS(u32, 0, 4294967295U, false)
CW_LIMITS(u64, 0, 18446744073709551615ULL, false)
CW_LIMITS(f32, -CW_INF_F32, CW_INF_F32, true)
CW_LIMITS(f64, -CW_INF_F64, CW_INF_F64, true)

template <typename T> __device__ __forceinline__ bool cw_isnan(T x) { return false; }
template <> __device__ __forceinline__ bool cw_isnan<f32>(f32 x) { return x != x; }
template <> __device__ __forceinline__ bool cw_isnan<f64>(f64 x) { return x != x; }

// NaN of a float type (0 for integers, never used there).
template <typename T> __device__ __forceinline__ T cw_nan() { return (T)0; }
template <> __device__ __forceinline__ f32 cw_nan<f32>() { return CW_NAN_F32; }
template <> __device__ __forceinline__ f64 cw_nan<f64>() { return CW_NAN_F64; }

// The unsigned type of the same width, for wrap-around integer arithmetic (signed
// overflow is undefined in C++; NumPy wraps).
template <typename T> struct cw_unsigned { typedef T type; };
template <> struct cw_unsigned<i8> { typedef u8 type; };
template <> struct cw_unsigned<i16> { typedef u16 type; };
template <> struct cw_unsigned<i32> { typedef u32 type; };
template <> struct cw_unsigned<i64> { typedef u64 type; };

// Sum of one value per lane across a warp.
template <typename T> __device__ __forceinline__ T cw_warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}
