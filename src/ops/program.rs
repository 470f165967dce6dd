//! [`Program`]: a straight-line list of elementwise instructions over a block.
//!
//! A program is what one Map task computes: it reads its inputs (the task's input
//! chunks, broadcast to the block's shape), constants, and generators (values that are
//! a function of the global element index: `arange`, seeded random numbers), and
//! produces one output. Registers are SSA: instruction `i` writes register `i`, reads
//! only earlier ones, and the last instruction is the result.
//!
//! Fusion composes programs ([`Program::substitute`]): feeding producer `q` into input
//! slot `k` of consumer `p` gives one program that computes both in a single pass over
//! memory — on the CPU tile by tile in cache, on CUDA as one generated kernel.
//!
//! ```
//! use chunkwise::ops::{Program, InstOp, Inst, UnaryOp, BinaryOp};
//! use chunkwise::DType;
//! // sin(x)^2 + cos(x)^2 over one f64 input
//! let mut p = Program::new(1);
//! let x = p.push(InstOp::Input(0), DType::F64);
//! let s = p.push(InstOp::Unary(UnaryOp::Sin, x), DType::F64);
//! let c = p.push(InstOp::Unary(UnaryOp::Cos, x), DType::F64);
//! let s2 = p.push(InstOp::Unary(UnaryOp::Square, s), DType::F64);
//! let c2 = p.push(InstOp::Unary(UnaryOp::Square, c), DType::F64);
//! p.push(InstOp::Binary(BinaryOp::Add, s2, c2), DType::F64);
//! assert_eq!(p.out_dtype(), DType::F64);
//! ```

use super::{BinaryOp, UnaryOp};
use crate::dtype::{DType, Scalar};
use std::fmt::Write as _;

/// A register (the index of the instruction that writes it).
pub type Reg = u32;

/// Values computed from the global C-order element index of the array being generated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Generator {
    /// `start + step * i` (computed in the instruction's dtype: exact for integers).
    Arange {
        /// First value.
        start: Scalar,
        /// Increment.
        step: Scalar,
    },
    /// `start + step * i`, with the element `last` set exactly to `stop` (`np.linspace`).
    Linspace {
        /// First value.
        start: f64,
        /// Increment.
        step: f64,
        /// Index of the last element.
        last: u64,
        /// Value of the last element.
        stop: f64,
    },
    /// Uniform in `[low, high)` from a counter-based hash of `(seed, i)`: the same value
    /// for element `i` whatever the chunking or thread count.
    Uniform {
        /// Seed.
        seed: u64,
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Normal(mean, std) by Box–Muller over two counter-based uniforms.
    Normal {
        /// Seed.
        seed: u64,
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
}

/// What an instruction computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InstOp {
    /// The task's input chunk in this slot, broadcast to the block.
    Input(u32),
    /// A constant.
    Const(Scalar),
    /// A generated value.
    Gen(Generator),
    /// An elementwise unary op on a register (of the kernel's input dtype).
    Unary(UnaryOp, Reg),
    /// An elementwise binary op on two registers of the same dtype.
    Binary(BinaryOp, Reg, Reg),
    /// A cast of a register to this instruction's dtype.
    Cast(Reg),
    /// `where(cond, a, b)`; `cond` is bool, `a` and `b` have this instruction's dtype.
    Where(Reg, Reg, Reg),
}

/// One instruction and the dtype of the register it writes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Inst {
    /// The operation.
    pub op: InstOp,
    /// The dtype of the result.
    pub dtype: DType,
}

/// A straight-line elementwise program over `n_inputs` input chunks.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Program {
    /// Instructions; the last is the output.
    pub insts: Vec<Inst>,
    /// How many input slots it reads.
    pub n_inputs: u32,
}

impl Program {
    /// An empty program over `n_inputs` inputs.
    #[must_use]
    pub fn new(n_inputs: u32) -> Self {
        Program {
            insts: Vec::new(),
            n_inputs,
        }
    }

    /// Appends an instruction; returns its register.
    pub fn push(&mut self, op: InstOp, dtype: DType) -> Reg {
        self.insts.push(Inst { op, dtype });
        (self.insts.len() - 1) as Reg
    }

    /// The register holding the result.
    ///
    /// # Panics
    /// On an empty program (a bug in the caller).
    #[must_use]
    pub fn out(&self) -> Reg {
        assert!(!self.insts.is_empty(), "empty program");
        (self.insts.len() - 1) as Reg
    }

    /// The result dtype.
    #[must_use]
    pub fn out_dtype(&self) -> DType {
        self.insts.last().map_or(DType::F64, |i| i.dtype)
    }

    /// Whether a value depends on where the element is in its array (a generator such as
    /// `arange` or seeded random numbers): such a program computes the same block
    /// differently in another array, so it is fused only into consumers over its own
    /// array.
    #[must_use]
    pub fn uses_position(&self) -> bool {
        self.insts.iter().any(|i| matches!(i.op, InstOp::Gen(_)))
    }

    /// True when the program only reads input 0 unchanged (an identity).
    #[must_use]
    pub fn is_identity(&self) -> bool {
        self.insts.len() == 1 && matches!(self.insts[0].op, InstOp::Input(0))
    }

    /// Appends `other`'s instructions, mapping its input slot `k` to `inputs[k]`
    /// (registers of `self`); returns the register of `other`'s result.
    pub fn inline(&mut self, other: &Program, inputs: &[Reg]) -> Reg {
        let mut map: Vec<Reg> = Vec::with_capacity(other.insts.len());
        for inst in &other.insts {
            let r = |x: Reg| map[x as usize];
            let new = match inst.op {
                InstOp::Input(k) => {
                    map.push(inputs[k as usize]);
                    continue;
                }
                InstOp::Const(_) | InstOp::Gen(_) => inst.op,
                InstOp::Unary(op, a) => InstOp::Unary(op, r(a)),
                InstOp::Binary(op, a, b) => InstOp::Binary(op, r(a), r(b)),
                InstOp::Cast(a) => InstOp::Cast(r(a)),
                InstOp::Where(c, a, b) => InstOp::Where(r(c), r(a), r(b)),
            };
            map.push(self.push(new, inst.dtype));
        }
        *map.last().expect("inlined program is empty")
    }

    /// Fusion: the program that computes `self` with input slot `slot` replaced by the
    /// result of `producer`. The new input slots are `self`'s slots without `slot`, in
    /// order, followed by `producer`'s slots.
    #[must_use]
    pub fn substitute(&self, slot: u32, producer: &Program) -> Program {
        let n = self.n_inputs - 1 + producer.n_inputs;
        let mut out = Program::new(n);
        let prod_inputs: Vec<Reg> = (0..producer.n_inputs)
            .map(|k| out.push(InstOp::Input(self.n_inputs - 1 + k), DType::Bool))
            .collect();
        // Input instructions carry their dtype from where they are read; fix below.
        let pr = out.inline(producer, &prod_inputs);
        let mut mine: Vec<Reg> = Vec::with_capacity(self.n_inputs as usize);
        for k in 0..self.n_inputs {
            if k == slot {
                mine.push(pr);
            } else {
                let newk = if k < slot { k } else { k - 1 };
                mine.push(out.push(InstOp::Input(newk), DType::Bool));
            }
        }
        out.inline(self, &mine);
        // Give every Input instruction the dtype its readers expect.
        let dt_self: Vec<Option<DType>> = input_dtypes(self);
        let dt_prod: Vec<Option<DType>> = input_dtypes(producer);
        for inst in &mut out.insts {
            if let InstOp::Input(k) = inst.op {
                let k = k as usize;
                let own = self.n_inputs as usize - 1;
                let d = if k >= own {
                    dt_prod[k - own]
                } else {
                    let orig = if k < slot as usize { k } else { k + 1 };
                    dt_self[orig]
                };
                inst.dtype = d.unwrap_or(DType::F64);
            }
        }
        out.dedup_inputs()
    }

    /// Removes repeated `Input(k)` instructions (after fusion one input may be read by
    /// both the producer and the consumer).
    fn dedup_inputs(self) -> Program {
        let mut out = Program::new(self.n_inputs);
        let mut seen: Vec<Option<Reg>> = vec![None; self.n_inputs as usize];
        let mut map: Vec<Reg> = Vec::with_capacity(self.insts.len());
        for inst in &self.insts {
            let r = |x: Reg| map[x as usize];
            let new = match inst.op {
                InstOp::Input(k) => {
                    if let Some(reg) = seen[k as usize] {
                        map.push(reg);
                        continue;
                    }
                    let reg = out.push(inst.op, inst.dtype);
                    seen[k as usize] = Some(reg);
                    map.push(reg);
                    continue;
                }
                InstOp::Const(_) | InstOp::Gen(_) => inst.op,
                InstOp::Unary(op, a) => InstOp::Unary(op, r(a)),
                InstOp::Binary(op, a, b) => InstOp::Binary(op, r(a), r(b)),
                InstOp::Cast(a) => InstOp::Cast(r(a)),
                InstOp::Where(c, a, b) => InstOp::Where(r(c), r(a), r(b)),
            };
            map.push(out.push(new, inst.dtype));
        }
        // The output must stay last: if the final instruction was a deduplicated input,
        // re-emit it as a cast to itself.
        let last = *map.last().expect("program is empty");
        if last as usize != out.insts.len() - 1 {
            let dt = out.insts[last as usize].dtype;
            out.push(InstOp::Cast(last), dt);
        }
        out
    }

    /// Renames input slot `k` to `mapping[k]` (several slots may map to one), leaving
    /// `n_inputs` slots; used when fusion finds one upstream task in two slots.
    #[must_use]
    pub fn remap_inputs(&self, mapping: &[u32], n_inputs: u32) -> Program {
        let mut p = self.clone();
        p.n_inputs = n_inputs;
        for inst in &mut p.insts {
            if let InstOp::Input(k) = &mut inst.op {
                *k = mapping[*k as usize];
            }
        }
        p.dedup_inputs()
    }

    /// The input slots read with their dtype.
    #[must_use]
    pub fn input_dtypes(&self) -> Vec<Option<DType>> {
        input_dtypes(self)
    }

    /// A one-line description (`add(sin(in0), 2)`), for graphs and errors.
    #[must_use]
    pub fn describe(&self) -> String {
        fn go(p: &Program, r: Reg, s: &mut String, depth: usize) {
            if depth > 6 {
                s.push('…');
                return;
            }
            let inst = p.insts[r as usize];
            match inst.op {
                InstOp::Input(k) => {
                    let _ = write!(s, "in{k}");
                }
                InstOp::Const(c) => {
                    let _ = write!(s, "{}", c.as_f64());
                }
                InstOp::Gen(g) => {
                    let _ = write!(
                        s,
                        "{}",
                        match g {
                            Generator::Arange { .. } => "arange",
                            Generator::Linspace { .. } => "linspace",
                            Generator::Uniform { .. } => "uniform",
                            Generator::Normal { .. } => "normal",
                        }
                    );
                }
                InstOp::Unary(op, a) => {
                    s.push_str(op.name());
                    s.push('(');
                    go(p, a, s, depth + 1);
                    s.push(')');
                }
                InstOp::Binary(op, a, b) => {
                    s.push_str(op.name());
                    s.push('(');
                    go(p, a, s, depth + 1);
                    s.push_str(", ");
                    go(p, b, s, depth + 1);
                    s.push(')');
                }
                InstOp::Cast(a) => {
                    let _ = write!(s, "{}(", inst.dtype);
                    go(p, a, s, depth + 1);
                    s.push(')');
                }
                InstOp::Where(c, a, b) => {
                    s.push_str("where(");
                    go(p, c, s, depth + 1);
                    s.push_str(", ");
                    go(p, a, s, depth + 1);
                    s.push_str(", ");
                    go(p, b, s, depth + 1);
                    s.push(')');
                }
            }
        }
        let mut s = String::new();
        if !self.insts.is_empty() {
            go(self, self.out(), &mut s, 0);
        }
        s
    }
}

fn input_dtypes(p: &Program) -> Vec<Option<DType>> {
    let mut v = vec![None; p.n_inputs as usize];
    for inst in &p.insts {
        if let InstOp::Input(k) = inst.op {
            v[k as usize] = Some(inst.dtype);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitute_rewires_slots() {
        // consumer: in0 + in1 ; producer: sin(in0)
        let mut c = Program::new(2);
        let a = c.push(InstOp::Input(0), DType::F64);
        let b = c.push(InstOp::Input(1), DType::F64);
        c.push(InstOp::Binary(BinaryOp::Add, a, b), DType::F64);
        let mut p = Program::new(1);
        let x = p.push(InstOp::Input(0), DType::F32);
        let y = p.push(InstOp::Cast(x), DType::F64);
        p.push(InstOp::Unary(UnaryOp::Sin, y), DType::F64);
        let f = c.substitute(0, &p);
        assert_eq!(f.n_inputs, 2);
        assert_eq!(f.describe(), "add(sin(float64(in1)), in0)");
        assert_eq!(f.input_dtypes(), vec![Some(DType::F64), Some(DType::F32)]);
    }

    #[test]
    fn substitute_identity_producer_renumbers_slots() {
        // consumer in0*in1 where both slots come from the same upstream chunk after fusion
        let mut c = Program::new(2);
        let a = c.push(InstOp::Input(0), DType::F64);
        let b = c.push(InstOp::Input(1), DType::F64);
        c.push(InstOp::Binary(BinaryOp::Mul, a, b), DType::F64);
        let mut p = Program::new(1);
        p.push(InstOp::Input(0), DType::F64);
        let f = c.substitute(0, &p);
        assert_eq!(f.n_inputs, 2);
        assert_eq!(f.describe(), "multiply(in1, in0)");
    }
}
