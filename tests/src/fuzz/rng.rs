//! A small, fast, seedable PRNG (wyrand): reproducible request streams
//! per worker from `--seed`.
//!
//! With coverage (kcov.rs) a fuzzing step also runs on a tape: every draw
//! the step makes is recorded (its choice sequence), and a step can replay
//! a recorded, mutated sequence, drawing fresh values once it runs out. The
//! structured generators of ops.rs take every decision (which ioctl, which
//! key, which length, which field to break and how) from draws, so changing
//! one draw changes one decision and the rest of the step stays as it was:
//! the corpus (corpus.rs) mutates requests without knowing their layout.

pub struct Rng {
    state: u64,
    tape: Option<Tape>,
}

struct Tape {
    replay: Vec<u64>,
    pos: usize,
    record: Vec<u64>,
}

/// Draws kept on one tape; a longer step records only its first draws.
pub const TAPE_MAX: usize = 1024;

fn wyrand(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0xa076_1d64_78bd_642f);
    let t = u128::from(*state).wrapping_mul(u128::from(*state ^ 0xe703_7ed1_a0b4_28db));
    ((t >> 64) ^ t) as u64
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut state = seed ^ 0x9e37_79b9_7f4a_7c15;
        wyrand(&mut state);
        Rng { state, tape: None }
    }

    pub fn next(&mut self) -> u64 {
        let Some(t) = self.tape.as_mut() else {
            return wyrand(&mut self.state);
        };
        let x = match t.replay.get(t.pos) {
            Some(&x) => {
                t.pos += 1;
                x
            }
            None => wyrand(&mut self.state),
        };
        if t.record.len() < TAPE_MAX {
            t.record.push(x);
        }
        x
    }

    /// Starts recording draws, taking them from `replay` first.
    pub fn start_tape(&mut self, replay: Vec<u64>) {
        self.tape = Some(Tape {
            replay,
            pos: 0,
            record: Vec::new(),
        });
    }

    /// Stops recording; returns the draws made since [`Self::start_tape`].
    pub fn take_tape(&mut self) -> Vec<u64> {
        self.tape.take().map(|t| t.record).unwrap_or_default()
    }

    /// Uniform in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// Fills `buf` from a generator seeded by one draw, so that a buffer is
    /// one choice on a tape, however long it is.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut state = self.next();
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&wyrand(&mut state).to_ne_bytes());
        }
        let rest = chunks.into_remainder();
        let n = rest.len();
        rest.copy_from_slice(&wyrand(&mut state).to_ne_bytes()[..n]);
    }
}
