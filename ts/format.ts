/** The `model.json` format (`convnet-wasm/layers-model`) version this build writes; loading a newer one fails. */
export const FORMAT_VERSION = 1;
