// The ReleaseVerifier port: does a detached signature over the manifest's exact bytes come from a
// trusted key at this time? Only a signature that verified counts; anything else throws.

export interface VerifiedSignature {
  /** Upper-case fingerprint of the keyring (primary) key that made the signature. */
  readonly fingerprint: string;
  readonly created: Date;
}

export interface ReleaseVerifier {
  verify(data: Uint8Array, armoredSignature: string, now: Date): Promise<VerifiedSignature>;
}
