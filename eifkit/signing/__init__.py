"""Signing EIFs: the COSE_Sign1 envelope, signers (local key, KMS, detached) and verification."""
