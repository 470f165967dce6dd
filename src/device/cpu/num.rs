//! Arithmetic with NumPy's semantics, per element type.
//!
//! [`Num`] is implemented for the ten numeric types (bool is handled by the logical
//! kernels). Integer arithmetic wraps, as NumPy's does; integer division and remainder
//! by zero give 0, as NumPy's do (with a warning there); `minimum`/`maximum` propagate
//! NaN; `round` is half-to-even.

use crate::dtype::Element;

/// Numeric element operations.
pub trait Num: Element {
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Largest value (+inf for floats).
    const MAX: Self;
    /// Smallest value (-inf for floats).
    const MIN: Self;
    /// a + b (wrapping).
    fn add(a: Self, b: Self) -> Self;
    /// a - b (wrapping).
    fn sub(a: Self, b: Self) -> Self;
    /// a * b (wrapping).
    fn mul(a: Self, b: Self) -> Self;
    /// True division (floats only; integers are cast to float first).
    fn div(a: Self, b: Self) -> Self;
    /// Floor division.
    fn floordiv(a: Self, b: Self) -> Self;
    /// Remainder with the sign of the divisor.
    fn rem(a: Self, b: Self) -> Self;
    /// a ** b.
    fn pow(a: Self, b: Self) -> Self;
    /// -a (wrapping).
    fn neg(a: Self) -> Self;
    /// |a| (wrapping for MIN).
    fn abs(a: Self) -> Self;
    /// floor (identity for integers).
    fn floor(a: Self) -> Self;
    /// ceil (identity for integers).
    fn ceil(a: Self) -> Self;
    /// round half to even (identity for integers).
    fn round(a: Self) -> Self;
    /// toward zero (identity for integers).
    fn trunc(a: Self) -> Self;
    /// -1, 0 or 1 (NaN for NaN; 0 for either zero).
    fn sign(a: Self) -> Self;
    /// C's remainder, the sign of the dividend (`np.fmod`); 0 for an integer 0 divisor.
    fn fmod(a: Self, b: Self) -> Self;
    /// Not NaN and not infinite.
    fn is_finite(a: Self) -> bool;
    /// `np.minimum`.
    #[inline(always)]
    fn minimum(a: Self, b: Self) -> Self {
        if a.is_nan() || a < b { a } else { b }
    }
    /// `np.maximum`.
    #[inline(always)]
    fn maximum(a: Self, b: Self) -> Self {
        if a.is_nan() || a > b { a } else { b }
    }
}

macro_rules! num_int {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            const MAX: Self = <$t>::MAX;
            const MIN: Self = <$t>::MIN;
            #[inline(always)] fn add(a: Self, b: Self) -> Self { a.wrapping_add(b) }
            #[inline(always)] fn sub(a: Self, b: Self) -> Self { a.wrapping_sub(b) }
            #[inline(always)] fn mul(a: Self, b: Self) -> Self { a.wrapping_mul(b) }
            #[inline(always)] fn div(a: Self, b: Self) -> Self { Self::floordiv(a, b) }
            #[inline(always)]
            fn floordiv(a: Self, b: Self) -> Self {
                if b == 0 { return 0; }
                let q = a.wrapping_div(b);
                #[allow(unused_comparisons)]
                if (a.wrapping_rem(b) != 0) && ((a < 0) != (b < 0)) { q.wrapping_sub(1) } else { q }
            }
            #[inline(always)]
            fn rem(a: Self, b: Self) -> Self {
                if b == 0 { return 0; }
                let r = a.wrapping_rem(b);
                #[allow(unused_comparisons)]
                if r != 0 && ((r < 0) != (b < 0)) { r.wrapping_add(b) } else { r }
            }
            #[inline(always)]
            fn pow(a: Self, b: Self) -> Self {
                #[allow(unused_comparisons)]
                if b < 0 {
                    // NumPy refuses negative integer powers; C's integer semantics: 1/a^|b|.
                    return if a == 1 { 1 } else if a.wrapping_add(1) == 0 && (b as i64) % 2 != 0 { a } else if a.wrapping_add(1) == 0 { 1 } else { 0 };
                }
                // The whole exponent, by squaring, wrapping (NumPy's loop); not
                // `wrapping_pow`, whose u32 exponent would drop the high bits.
                let (mut r, mut base, mut e) = (1 as $t, a, b as u64);
                while e > 0 {
                    if e & 1 == 1 {
                        r = r.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    e >>= 1;
                }
                r
            }
            #[inline(always)] fn neg(a: Self) -> Self { (0 as $t).wrapping_sub(a) }
            #[inline(always)]
            fn abs(a: Self) -> Self {
                #[allow(unused_comparisons)]
                if a < 0 { (0 as $t).wrapping_sub(a) } else { a }
            }
            #[inline(always)] fn floor(a: Self) -> Self { a }
            #[inline(always)] fn ceil(a: Self) -> Self { a }
            #[inline(always)] fn round(a: Self) -> Self { a }
            #[inline(always)] fn trunc(a: Self) -> Self { a }
            #[inline(always)]
            fn sign(a: Self) -> Self {
                #[allow(unused_comparisons)]
                if a < 0 { (0 as $t).wrapping_sub(1) } else if a > 0 { 1 } else { 0 }
            }
            #[inline(always)]
            fn fmod(a: Self, b: Self) -> Self {
                // MIN % -1 is 0 (and would trap), as NumPy's.
                if b == 0 { 0 } else { a.wrapping_rem(b) }
            }
            #[inline(always)] fn is_finite(_: Self) -> bool { true }
        }
    )*};
}
num_int!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! num_float {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const MAX: Self = <$t>::INFINITY;
            const MIN: Self = <$t>::NEG_INFINITY;
            #[inline(always)] fn add(a: Self, b: Self) -> Self { a + b }
            #[inline(always)] fn sub(a: Self, b: Self) -> Self { a - b }
            #[inline(always)] fn mul(a: Self, b: Self) -> Self { a * b }
            #[inline(always)] fn div(a: Self, b: Self) -> Self { a / b }
            #[inline(always)]
            fn floordiv(a: Self, b: Self) -> Self {
                // Python's float //: floor((a - a % b) / b), via divmod's definition.
                if b == 0.0 { return a / b; }
                let m = a % b;
                let mut d = (a - m) / b;
                if m != 0.0 && ((b < 0.0) != (m < 0.0)) { d -= 1.0; }
                if d == 0.0 { return (0.0 as $t).copysign(a / b); }
                let f = d.floor();
                if d - f > 0.5 { f + 1.0 } else { f }
            }
            #[inline(always)]
            fn rem(a: Self, b: Self) -> Self {
                let r = a % b;
                if r != 0.0 && ((r < 0.0) != (b < 0.0)) { r + b } else if r == 0.0 { (0.0 as $t).copysign(b) } else { r }
            }
            #[inline(always)] fn pow(a: Self, b: Self) -> Self { a.powf(b) }
            #[inline(always)] fn neg(a: Self) -> Self { -a }
            #[inline(always)] fn abs(a: Self) -> Self { a.abs() }
            #[inline(always)] fn floor(a: Self) -> Self { a.floor() }
            #[inline(always)] fn ceil(a: Self) -> Self { a.ceil() }
            #[inline(always)] fn round(a: Self) -> Self { a.round_ties_even() }
            #[inline(always)] fn trunc(a: Self) -> Self { a.trunc() }
            #[inline(always)]
            fn sign(a: Self) -> Self {
                if a > 0.0 { 1.0 } else if a < 0.0 { -1.0 } else if a == 0.0 { 0.0 } else { a }
            }
            #[inline(always)] fn fmod(a: Self, b: Self) -> Self { a % b }
            #[inline(always)] fn is_finite(a: Self) -> bool { a.is_finite() }
        }
    )*};
}
num_float!(f32, f64);

/// Floating-point transcendental functions.
pub trait Float: Num {
    /// sqrt.
    fn sqrt(a: Self) -> Self;
    /// e^a.
    fn exp(a: Self) -> Self;
    /// ln a.
    fn ln(a: Self) -> Self;
    /// ln(1+a).
    fn ln_1p(a: Self) -> Self;
    /// e^a - 1.
    fn exp_m1(a: Self) -> Self;
    /// tan.
    fn tan(a: Self) -> Self;
    /// arctan.
    fn atan(a: Self) -> Self;
    /// arctan2(a, b).
    fn atan2(a: Self, b: Self) -> Self;
    /// arcsin.
    fn asin(a: Self) -> Self;
    /// arccos.
    fn acos(a: Self) -> Self;
    /// sinh.
    fn sinh(a: Self) -> Self;
    /// cosh.
    fn cosh(a: Self) -> Self;
    /// tanh.
    fn tanh(a: Self) -> Self;
    /// arcsinh.
    fn asinh(a: Self) -> Self;
    /// arccosh.
    fn acosh(a: Self) -> Self;
    /// arctanh.
    fn atanh(a: Self) -> Self;
    /// log2.
    fn log2(a: Self) -> Self;
    /// log10.
    fn log10(a: Self) -> Self;
    /// 2^a.
    fn exp2(a: Self) -> Self;
    /// cube root.
    fn cbrt(a: Self) -> Self;
    /// degrees → radians (`a · π/180`, as NumPy).
    fn to_radians(a: Self) -> Self;
    /// radians → degrees (`a · 180/π`, as NumPy).
    fn to_degrees(a: Self) -> Self;
    /// To f64.
    fn widen(a: Self) -> f64;
    /// From f64 (rounding).
    fn narrow(a: f64) -> Self;
    /// The slice itself when `Self` is f64.
    fn as_f64s(v: &[Self]) -> Option<&[f64]>;
}

macro_rules! float_impl {
    ($($t:ty),*) => {$(
        impl Float for $t {
            #[inline(always)] fn sqrt(a: Self) -> Self { a.sqrt() }
            #[inline(always)] fn exp(a: Self) -> Self { a.exp() }
            #[inline(always)] fn ln(a: Self) -> Self { a.ln() }
            #[inline(always)] fn ln_1p(a: Self) -> Self { a.ln_1p() }
            #[inline(always)] fn exp_m1(a: Self) -> Self { a.exp_m1() }
            #[inline(always)] fn tan(a: Self) -> Self { a.tan() }
            #[inline(always)] fn atan(a: Self) -> Self { a.atan() }
            #[inline(always)] fn atan2(a: Self, b: Self) -> Self { a.atan2(b) }
            #[inline(always)] fn asin(a: Self) -> Self { a.asin() }
            #[inline(always)] fn acos(a: Self) -> Self { a.acos() }
            #[inline(always)] fn sinh(a: Self) -> Self { a.sinh() }
            #[inline(always)] fn cosh(a: Self) -> Self { a.cosh() }
            #[inline(always)] fn tanh(a: Self) -> Self { a.tanh() }
            #[inline(always)] fn asinh(a: Self) -> Self { a.asinh() }
            #[inline(always)] fn acosh(a: Self) -> Self { a.acosh() }
            #[inline(always)] fn atanh(a: Self) -> Self { a.atanh() }
            #[inline(always)] fn log2(a: Self) -> Self { a.log2() }
            #[inline(always)] fn log10(a: Self) -> Self { a.log10() }
            #[inline(always)] fn exp2(a: Self) -> Self { a.exp2() }
            #[inline(always)] fn cbrt(a: Self) -> Self { a.cbrt() }
            #[inline(always)] fn to_radians(a: Self) -> Self { a.to_radians() }
            #[inline(always)] fn to_degrees(a: Self) -> Self { a.to_degrees() }
            #[inline(always)] fn widen(a: Self) -> f64 { a as f64 }
            #[inline(always)] fn narrow(a: f64) -> Self { a as $t }
            fn as_f64s(v: &[Self]) -> Option<&[f64]> { bytemuck::try_cast_slice(v).ok().filter(|_| std::mem::size_of::<$t>() == 8) }
        }
    )*};
}
float_impl!(f32, f64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_division_semantics() {
        assert_eq!(<i32 as Num>::floordiv(-7, 2), -4);
        assert_eq!(<i32 as Num>::rem(-7, 2), 1);
        assert_eq!(<i32 as Num>::rem(7, -2), -1);
        assert_eq!(<i32 as Num>::floordiv(7, 0), 0);
        assert_eq!(<u8 as Num>::floordiv(7, 2), 3);
        assert_eq!(<f64 as Num>::rem(-7.5, 2.0), 0.5);
        assert_eq!(<f64 as Num>::floordiv(-7.5, 2.0), -4.0);
        assert_eq!(<f64 as Num>::round(2.5), 2.0);
        assert_eq!(<f64 as Num>::round(-3.5), -4.0);
        assert!(<f64 as Num>::minimum(f64::NAN, 1.0).is_nan());
        assert!(<f64 as Num>::maximum(1.0, f64::NAN).is_nan());
        assert_eq!(<i8 as Num>::add(127, 1), -128);
        assert_eq!(<i64 as Num>::pow(3, 4), 81);
    }

    #[test]
    fn integer_powers_use_the_whole_exponent() {
        // NumPy: np.power(np.int64([3, -7, 5]), [2**33 + 1, 2**40 + 3, 12345678901]),
        // i.e. pow(a, b, 2**64) read as int64 (found by the GPU conformance test: the
        // CPU dropped the exponent's high 32 bits).
        assert_eq!(<i64 as Num>::pow(3, (1 << 33) + 1), -3_498_886_002_355_732_477);
        assert_eq!(<i64 as Num>::pow(-7, (1 << 40) + 3), -1_491_931_725_775_765_847);
        assert_eq!(<i64 as Num>::pow(5, 12_345_678_901), 6_497_050_378_780_226_677);
        assert_eq!(<u8 as Num>::pow(3, 200), 3u8.wrapping_pow(200));
        assert_eq!(<i32 as Num>::pow(2, -1), 0);
        assert_eq!(<i32 as Num>::pow(-1, -3), -1);
    }
}
