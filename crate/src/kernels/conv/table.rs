//! Connection tables (LeNet-5's C3): which input maps each output map reads. The compact
//! parameters expand into a dense kernel with zeros for the missing connections; zero terms
//! leave every sum unchanged, so the dense kernels serve table convolutions exactly.

/// Which input maps each output map reads (LeNet-5's C3), and where each output map's compact
/// weights start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionTable {
    in_c: usize,
    inputs: Vec<Vec<usize>>,
}

impl ConnectionTable {
    /// `inputs[f]` lists, in ascending order, the input maps output map `f` reads.
    pub fn new(in_c: usize, inputs: Vec<Vec<usize>>) -> Result<Self, String> {
        for (f, list) in inputs.iter().enumerate() {
            if list.is_empty() {
                return Err(format!("connection table: output map {f} reads no input map"));
            }
            if list.windows(2).any(|w| w[0] >= w[1]) {
                return Err(format!("connection table: output map {f}'s inputs {list:?} are not strictly ascending"));
            }
            if let Some(&bad) = list.iter().find(|&&c| c >= in_c) {
                return Err(format!(
                    "connection table: output map {f} reads map {bad}, but there are {in_c} input maps"
                ));
            }
        }
        Ok(ConnectionTable { in_c, inputs })
    }

    pub fn out_c(&self) -> usize {
        self.inputs.len()
    }

    pub fn inputs(&self, f: usize) -> &[usize] {
        &self.inputs[f]
    }

    /// Trainable kernel weights: `Σ_f k_h·k_w·|inputs(f)|` (biases not included).
    pub fn compact_len(&self, k_h: usize, k_w: usize) -> usize {
        self.inputs.iter().map(|l| k_h * k_w * l.len()).sum()
    }

    /// Expands compact weights (for each output map f: `[k_h, k_w, |inputs(f)|]`) into a dense
    /// HWIO kernel with zeros where there is no connection.
    pub fn expand(&self, k_h: usize, k_w: usize, compact: &[f32], dense: &mut [f32]) {
        let out_c = self.out_c();
        assert_eq!(compact.len(), self.compact_len(k_h, k_w), "connection table: compact kernel length");
        assert_eq!(dense.len(), k_h * k_w * self.in_c * out_c, "connection table: dense kernel length");
        dense.fill(0.0);
        let mut at = 0;
        for (f, list) in self.inputs.iter().enumerate() {
            for k in 0..k_h * k_w {
                for &c in list {
                    dense[(k * self.in_c + c) * out_c + f] = compact[at];
                    at += 1;
                }
            }
        }
    }

    /// Gathers a dense HWIO kernel gradient back into compact form (the inverse of [`expand`]).
    ///
    /// [`expand`]: ConnectionTable::expand
    pub fn compact(&self, k_h: usize, k_w: usize, dense: &[f32], compact: &mut [f32]) {
        let out_c = self.out_c();
        assert_eq!(compact.len(), self.compact_len(k_h, k_w), "connection table: compact kernel length");
        assert_eq!(dense.len(), k_h * k_w * self.in_c * out_c, "connection table: dense kernel length");
        let mut at = 0;
        for (f, list) in self.inputs.iter().enumerate() {
            for k in 0..k_h * k_w {
                for &c in list {
                    compact[at] = dense[(k * self.in_c + c) * out_c + f];
                    at += 1;
                }
            }
        }
    }
}
