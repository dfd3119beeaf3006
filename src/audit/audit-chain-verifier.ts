// The chain verifier is plain TypeScript shared with the offline CLI: it lives in the engine.
export * from '../engine/audit/chain-verifier';
