//! The training-state format of checkpoints: everything training changes besides the weights.

use super::Model;
use crate::error::{ModelError, Result};
use crate::rng::Rng;

const STATE_MAGIC: &[u8; 4] = b"CWTS";
const STATE_VERSION: u32 = 1;

impl Model {
    /// Everything training changes besides the weights, for a checkpoint: the optimiser's step
    /// count and slots and the random generator's state. Little-endian: the magic `CWTS`, format
    /// version 1 (u32), the parameter count (u32), iterations (u64), Nadam's momentum product
    /// (f32), the generator (4 × u64), the two slot lengths (u32 each), then the slots (f32).
    pub fn training_state(&self) -> Vec<u8> {
        let (iterations, u_product, m, v) = self.optimizer.state();
        let (m_len, v_len) = self.optimizer.slot_lens();
        let mut out = Vec::with_capacity(64 + 4 * (m_len + v_len));
        out.extend_from_slice(STATE_MAGIC);
        out.extend_from_slice(&STATE_VERSION.to_le_bytes());
        out.extend_from_slice(&(self.params.len() as u32).to_le_bytes());
        out.extend_from_slice(&iterations.to_le_bytes());
        out.extend_from_slice(&u_product.to_le_bytes());
        for word in self.rng.state() {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&(m_len as u32).to_le_bytes());
        out.extend_from_slice(&(v_len as u32).to_le_bytes());
        // Slots not allocated yet (no step taken) are zeros.
        for (slot, len) in [(m, m_len), (v, v_len)] {
            if slot.is_empty() {
                out.resize(out.len() + 4 * len, 0);
            }
            for x in slot {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    /// Restores [`Model::training_state`], checking every length before changing anything.
    pub fn set_training_state(&mut self, bytes: &[u8]) -> Result<()> {
        let mut at = 0;
        let mut take = |n: usize| -> Result<&[u8]> {
            let part = bytes.get(at..at + n).ok_or_else(|| {
                ModelError::checkpoint(format!(
                    "training state: {} bytes, too short (needed at least {})",
                    bytes.len(),
                    at + n
                ))
            })?;
            at += n;
            Ok(part)
        };
        if take(4)? != STATE_MAGIC {
            return Err(ModelError::checkpoint("training state: not a convnet-wasm training state (bad magic)"));
        }
        let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap());
        let version = u32_at(take(4)?);
        if version != STATE_VERSION {
            return Err(ModelError::checkpoint(format!(
                "training state: version {version}; this build reads version {STATE_VERSION}"
            )));
        }
        let params = u32_at(take(4)?) as usize;
        if params != self.params.len() {
            return Err(ModelError::checkpoint(format!(
                "training state: for {params} parameters, the model has {}",
                self.params.len()
            )));
        }
        let iterations = u64::from_le_bytes(take(8)?.try_into().unwrap());
        let u_product = f32::from_le_bytes(take(4)?.try_into().unwrap());
        let mut rng = [0u64; 4];
        for word in &mut rng {
            *word = u64::from_le_bytes(take(8)?.try_into().unwrap());
        }
        let (m_len, v_len) = (u32_at(take(4)?) as usize, u32_at(take(4)?) as usize);
        let (m_now, v_now) = self.optimizer.slot_lens();
        if m_len != m_now || v_len != v_now {
            return Err(ModelError::checkpoint(format!(
                "training state: optimizer slots of {m_len} and {v_len} values, this optimizer has {m_now} and {v_now}"
            )));
        }
        let floats =
            |b: &[u8]| b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
        let m = floats(take(4 * m_len)?);
        let v = floats(take(4 * v_len)?);
        if at != bytes.len() {
            return Err(ModelError::checkpoint(format!("training state: {} bytes, expected {at}", bytes.len())));
        }
        self.optimizer.set_state(iterations, u_product, &m, &v)?;
        self.rng = Rng::from_state(rng);
        Ok(())
    }
}
