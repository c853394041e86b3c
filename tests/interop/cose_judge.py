#!/usr/bin/env python3
"""An independent judge of Niobium's signed payloads (COSE_Sign1, RFC 9052, ES256).

Written from the RFCs with cbor2 and cryptography only, sharing no code with Niobium, so that
the interop tests check our signatures against someone else's reading of the standard:

  cose_judge.py verify --key PUB.pem [--secret PATH=FILE]... FILE
                                             prints the headers and claims as JSON; exit 0 when
                                             the signature verifies (and each --secret matches
                                             its signed digest), 1 when not or malformed
  cose_judge.py sign --key PRIV.pem --content-format N [--iss S] [--sub S] [--iat N]
                     [--cti HEX] [--withhold PATH=FILE]... IN OUT
                                             writes a tagged COSE_Sign1 of IN's bytes

The verification key may be a SubjectPublicKeyInfo or a certificate, PEM or DER. The kid of a
signed message is the signer's secure ID: SHA-256 of its SubjectPublicKeyInfo, first 15 bytes.

Withheld secrets (Niobium's docs/cose.md, "Secrets in signed writes"): the protected header
signs, under the private label -65537 (listed in crit), {path: [salt, SHA-256(salt || key)]};
the key itself travels under -65538 in the unprotected header and is left out of what is kept.
"""
import argparse
import hashlib
import json
import os
import sys

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

TAG_SIGN1 = 18
ALG_ES256 = -7
H_ALG, H_CRIT, H_CTY, H_KID, H_CWT = 1, 2, 3, 4, 15
CWT_ISS, CWT_SUB, CWT_IAT, CWT_CTI = 1, 2, 6, 7
H_SECRET_DIGESTS, H_SECRETS = -65537, -65538


class Invalid(Exception):
    pass


def load_public(data):
    for loader in (serialization.load_pem_public_key, serialization.load_der_public_key):
        try:
            return loader(data)
        except ValueError:
            pass
    for loader in (x509.load_pem_x509_certificate, x509.load_der_x509_certificate):
        try:
            return loader(data).public_key()
        except ValueError:
            pass
    raise SystemExit("cose_judge: the key is neither a public key nor a certificate")


def load_private(data):
    for loader in (serialization.load_pem_private_key, serialization.load_der_private_key):
        try:
            return loader(data, password=None)
        except ValueError:
            pass
    raise SystemExit("cose_judge: the key is not a private key")


def secure_id(public_key):
    spki = public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()[:15]


def sig_structure(protected, payload):
    return cbor2.dumps(["Signature1", protected, b"", payload])


def decode(data):
    try:
        msg = cbor2.loads(data)
    except Exception as e:  # cbor2 raises several types for malformed input
        raise Invalid("malformed CBOR: %s" % e)
    if isinstance(msg, cbor2.CBORTag):
        if msg.tag != TAG_SIGN1:
            raise Invalid("tag %d is not COSE_Sign1" % msg.tag)
        msg = msg.value
    if not isinstance(msg, list) or len(msg) != 4:
        raise Invalid("not a 4-element COSE_Sign1 array")
    protected, unprotected, payload, signature = msg
    if not isinstance(protected, bytes) or not isinstance(unprotected, dict):
        raise Invalid("header buckets have the wrong types")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise Invalid("payload or signature is not a byte string")
    prot = cbor2.loads(protected) if protected else {}
    if not isinstance(prot, dict):
        raise Invalid("protected header is not a map")
    if prot.get(H_ALG) != ALG_ES256:
        raise Invalid("protected alg is %r, not ES256 (-7)" % prot.get(H_ALG))
    crit = prot.get(H_CRIT, [])
    if not isinstance(crit, list) or any(label != H_SECRET_DIGESTS for label in crit):
        raise Invalid("critical headers this judge does not understand: %r" % (crit,))
    if crit and H_SECRET_DIGESTS not in prot:
        raise Invalid("crit names the secret digests, which are not there")
    digests = prot.get(H_SECRET_DIGESTS, {})
    if not isinstance(digests, dict) or any(
            not isinstance(v, list) or len(v) != 2 or not all(isinstance(b, bytes) for b in v)
            or len(v[0]) != 16 or len(v[1]) != 32 for v in digests.values()):
        raise Invalid("secret digests are not {path: [salt(16), digest(32)]}")
    for path in unprotected.get(H_SECRETS, {}):
        if path not in digests:
            raise Invalid("a secret %s without a signed digest" % path)
    return protected, prot, unprotected, payload, signature


def describe(prot, unprotected, payload):
    out = {"alg": prot[H_ALG]}
    if H_KID in unprotected:
        out["kid"] = unprotected[H_KID].hex()
    if H_CTY in prot:
        out["content_format"] = prot[H_CTY]
    claims = prot.get(H_CWT, {})
    for label, name in ((CWT_ISS, "iss"), (CWT_SUB, "sub"), (CWT_IAT, "iat")):
        if label in claims:
            out[name] = claims[label]
    if CWT_CTI in claims:
        out["cti"] = claims[CWT_CTI].hex()
    out["payload_hex"] = payload.hex()
    if H_SECRET_DIGESTS in prot:  # never the secrets themselves
        out["withheld"] = [{"path": path, "salt": salt.hex(), "digest": digest.hex()}
                           for path, (salt, digest) in prot[H_SECRET_DIGESTS].items()]
        out["secrets_beside"] = len(unprotected.get(H_SECRETS, {}))
    return out


def check_secrets(prot, shown):
    """Each secret a verifier was shown must match the digest signed for its path."""
    digests = prot.get(H_SECRET_DIGESTS, {})
    for path, file in shown:
        if path not in digests:
            raise Invalid("no secret withheld at %s" % path)
        with open(file, "rb") as f:
            key = f.read()
        salt, digest = digests[path]
        if hashlib.sha256(salt + key).digest() != digest:
            raise Invalid("the secret given for %s does not match its signed digest" % path)


def pairs(values):
    out = []
    for v in values or []:
        path, sep, file = v.partition("=")
        if not sep:
            raise SystemExit("cose_judge: expected PATH=FILE, got %r" % v)
        out.append((path, file))
    return out


def verify(args):
    with open(args.key, "rb") as f:
        key = load_public(f.read())
    with open(args.file, "rb") as f:
        data = f.read()
    try:
        protected, prot, unprotected, payload, signature = decode(data)
        out = describe(prot, unprotected, payload)
        if len(signature) != 64:
            raise Invalid("ES256 signature is %d bytes, not 64" % len(signature))
        der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                         int.from_bytes(signature[32:], "big"))
        try:
            key.verify(der, sig_structure(protected, payload), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise Invalid("signature does not verify")
        check_secrets(prot, pairs(args.secret))
        out["valid"] = True
        print(json.dumps(out))
        return 0
    except Invalid as e:
        print(json.dumps({"valid": False, "error": str(e)}))
        return 1


def sign(args):
    with open(args.key, "rb") as f:
        key = load_private(f.read())
    with open(args.input, "rb") as f:
        payload = f.read()
    claims = {}
    if args.iss:
        claims[CWT_ISS] = args.iss
    if args.sub:
        claims[CWT_SUB] = args.sub
    if args.iat is not None:
        claims[CWT_IAT] = args.iat
    if args.cti:
        claims[CWT_CTI] = bytes.fromhex(args.cti)
    prot = {H_ALG: ALG_ES256, H_CTY: args.content_format}
    if claims:
        prot[H_CWT] = claims
    secrets = {}
    for path, file in pairs(args.withhold):
        with open(file, "rb") as f:
            secrets[path] = f.read()
    if secrets:
        prot[H_CRIT] = [H_SECRET_DIGESTS]
        prot[H_SECRET_DIGESTS] = {}
        for path, value in secrets.items():
            salt = os.urandom(16)
            prot[H_SECRET_DIGESTS][path] = [salt, hashlib.sha256(salt + value).digest()]
    protected = cbor2.dumps(prot)
    der = key.sign(sig_structure(protected, payload), ec.ECDSA(hashes.SHA256()))
    r, s = utils.decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    unprotected = {H_KID: secure_id(key.public_key())}
    if secrets:
        unprotected[H_SECRETS] = secrets
    msg = cbor2.CBORTag(TAG_SIGN1, [protected, unprotected, payload, signature])
    with open(args.output, "wb") as f:
        f.write(cbor2.dumps(msg))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="action", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--key", required=True)
    v.add_argument("--secret", action="append", metavar="PATH=FILE")
    v.add_argument("file")
    s = sub.add_parser("sign")
    s.add_argument("--key", required=True)
    s.add_argument("--content-format", type=int, required=True)
    s.add_argument("--iss")
    s.add_argument("--sub")
    s.add_argument("--iat", type=int)
    s.add_argument("--cti")
    s.add_argument("--withhold", action="append", metavar="PATH=FILE")
    s.add_argument("input")
    s.add_argument("output")
    args = p.parse_args()
    return verify(args) if args.action == "verify" else sign(args)


if __name__ == "__main__":
    sys.exit(main())
