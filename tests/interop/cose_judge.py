#!/usr/bin/env python3
"""An independent judge of Niobium's signed payloads (COSE_Sign1, RFC 9052, ES256).

Written from the RFCs with cbor2 and cryptography only, sharing no code with Niobium, so that
the interop tests check our signatures against someone else's reading of the standard:

  cose_judge.py verify --key PUB.pem FILE    prints the headers and claims as JSON; exit 0 when
                                             the signature verifies, 1 when not or malformed
  cose_judge.py sign --key PRIV.pem --content-format N [--iss S] [--sub S] [--iat N]
                     [--cti HEX] IN OUT      writes a tagged COSE_Sign1 of IN's bytes

The verification key may be a SubjectPublicKeyInfo or a certificate, PEM or DER. The kid of a
signed message is the signer's secure ID: SHA-256 of its SubjectPublicKeyInfo, first 15 bytes.
"""
import argparse
import hashlib
import json
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
    if H_CRIT in prot:
        raise Invalid("critical headers present")
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
    protected = cbor2.dumps(prot)
    der = key.sign(sig_structure(protected, payload), ec.ECDSA(hashes.SHA256()))
    r, s = utils.decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    unprotected = {H_KID: secure_id(key.public_key())}
    msg = cbor2.CBORTag(TAG_SIGN1, [protected, unprotected, payload, signature])
    with open(args.output, "wb") as f:
        f.write(cbor2.dumps(msg))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="action", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--key", required=True)
    v.add_argument("file")
    s = sub.add_parser("sign")
    s.add_argument("--key", required=True)
    s.add_argument("--content-format", type=int, required=True)
    s.add_argument("--iss")
    s.add_argument("--sub")
    s.add_argument("--iat", type=int)
    s.add_argument("--cti")
    s.add_argument("input")
    s.add_argument("output")
    args = p.parse_args()
    return verify(args) if args.action == "verify" else sign(args)


if __name__ == "__main__":
    sys.exit(main())
