#!/usr/bin/env python3
"""Helpers for hack/images.sh, standard library only.

  oci.py mirror SUITE
      Reads this machine's apt sources (one-line and deb822 files) and prints the Debian
      archive to use for SUITE as `main URI`, and its security archive as `security URI`
      when apt has one. Nothing is hard-coded: the machine's own configuration decides.

  oci.py pack --layer TAR --out ARCHIVE --name NAME [--name NAME...] [options]
      Writes an OCI image archive (oci-layout, index.json, a Docker-style manifest.json,
      blobs) holding one image of one layer: the uncompressed TAR, or its gzip when
      --gzip is given. Every NAME becomes an index entry annotated with both
      `io.containerd.image.name` and `org.opencontainers.image.ref.name`, so
      `ctr images import` names the image exactly. The diff_id is the sha256 of the
      uncompressed TAR; digests and sizes are of the bytes written.
"""

import argparse
import glob
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time


# ---------------------------------------------------------------------------- mirror

def _sources_entries():
    """(types, uris, suites, components) of every enabled apt source on this machine."""
    entries = []
    one_line = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
    for path in one_line:
        try:
            lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            line = re.sub(r"\[[^\]]*\]", " ", line)  # options such as [signed-by=...]
            parts = line.split()
            if len(parts) < 3 or parts[0] not in ("deb", "deb-src"):
                continue
            entries.append(({parts[0]}, [parts[1]], [parts[2]], parts[3:]))
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        try:
            text = open(path, encoding="utf-8", errors="replace").read()
        except OSError:
            continue
        for para in re.split(r"\n\s*\n", text):
            fields = {}
            key = None
            for raw in para.splitlines():
                if raw.lstrip().startswith("#"):
                    continue
                if raw[:1] in (" ", "\t") and key:
                    fields[key] += " " + raw.strip()
                    continue
                if ":" in raw:
                    key, value = raw.split(":", 1)
                    key = key.strip().lower()
                    fields[key] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            if "uris" not in fields or "suites" not in fields:
                continue
            entries.append((
                set(fields.get("types", "deb").split()),
                fields["uris"].split(),
                fields["suites"].split(),
                fields.get("components", "").split(),
            ))
    return entries


def mirror(suite):
    main = security = None
    fallback_main = fallback_security = None
    for types, uris, suites, components in _sources_entries():
        if "deb" not in types or "main" not in components:
            continue
        for uri in uris:
            uri = uri.rstrip("/")
            if not uri.startswith(("http://", "https://", "file:/")):
                continue
            for s in suites:
                if s == suite and main is None:
                    main = uri
                elif s == suite + "-security" and security is None:
                    security = uri
                elif s.endswith("-security") or "/updates" in s:
                    fallback_security = fallback_security or uri
                elif not s.endswith(("-updates", "-backports", "-proposed-updates")):
                    # Another Debian release from a full mirror: it carries SUITE too.
                    fallback_main = fallback_main or uri
    main = main or fallback_main
    security = security or fallback_security
    if not main:
        return 1
    print("main", main)
    if security:
        print("security", security)
    return 0


# ------------------------------------------------------------------------------ pack

def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _add_bytes(tar, name, data, mtime):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _dumps(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def pack(args):
    now = int(time.time())
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    diff_id = "sha256:" + _sha256_file(args.layer)
    layer_path = args.layer
    media_type = "application/vnd.oci.image.layer.v1.tar"
    if args.gzip:
        layer_path = args.layer + ".gz"
        gz = shutil.which("pigz") or "gzip"
        with open(args.layer, "rb") as src, open(layer_path, "wb") as dst:
            subprocess.run([gz, "-n", "-6", "-c"], stdin=src, stdout=dst, check=True)
        media_type += "+gzip"
    layer_digest = "sha256:" + _sha256_file(layer_path)
    layer_size = os.path.getsize(layer_path)

    config = {}
    if args.user:
        config["User"] = args.user
    if args.env:
        config["Env"] = args.env
    if args.workdir:
        config["WorkingDir"] = args.workdir
    if args.entrypoint is not None:
        config["Entrypoint"] = json.loads(args.entrypoint)
    if args.cmd is not None:
        config["Cmd"] = json.loads(args.cmd)
    if args.port:
        config["ExposedPorts"] = {p: {} for p in args.port}
    if args.stop_signal:
        config["StopSignal"] = args.stop_signal
    if args.label:
        config["Labels"] = dict(kv.split("=", 1) for kv in args.label)
    image_config = {
        "architecture": args.arch,
        "os": "linux",
        "created": created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": args.created_by}],
    }
    config_bytes = _dumps(image_config)
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config_bytes),
        },
        "layers": [{"mediaType": media_type, "digest": layer_digest, "size": layer_size}],
    }
    manifest_bytes = _dumps(manifest)
    manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": args.arch, "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": name,
                },
            }
            for name in args.name
        ],
    }
    blob = lambda digest: "blobs/sha256/" + digest.split(":", 1)[1]
    docker_manifest = [{
        "Config": blob(config_digest),
        "RepoTags": args.name,
        "Layers": [blob(layer_digest)],
    }]
    with tarfile.open(args.out, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", _dumps({"imageLayoutVersion": "1.0.0"}), now)
        _add_bytes(tar, "index.json", _dumps(index), now)
        _add_bytes(tar, "manifest.json", _dumps(docker_manifest), now)
        _add_bytes(tar, blob(config_digest), config_bytes, now)
        _add_bytes(tar, blob(manifest_digest), manifest_bytes, now)
        info = tar.gettarinfo(layer_path, arcname=blob(layer_digest))
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o644
        with open(layer_path, "rb") as f:
            tar.addfile(info, f)
    if args.gzip:
        os.unlink(layer_path)
    json.dump({
        "manifest": manifest_digest,
        "config": config_digest,
        "layer": layer_digest,
        "layer_size": layer_size,
        "layer_media_type": media_type,
        "diff_id": diff_id,
        "uncompressed_size": os.path.getsize(args.layer),
        "names": args.name,
    }, sys.stdout, indent=1)
    print()
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mirror")
    m.add_argument("suite")
    p = sub.add_parser("pack")
    p.add_argument("--layer", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--name", action="append", required=True)
    p.add_argument("--arch", default="amd64")
    p.add_argument("--gzip", action="store_true")
    p.add_argument("--user")
    p.add_argument("--env", action="append")
    p.add_argument("--workdir")
    p.add_argument("--entrypoint", help="JSON array")
    p.add_argument("--cmd", help="JSON array")
    p.add_argument("--port", action="append")
    p.add_argument("--stop-signal")
    p.add_argument("--label", action="append")
    p.add_argument("--created-by", default="hack/images.sh")
    args = parser.parse_args()
    if args.command == "mirror":
        return mirror(args.suite)
    return pack(args)


if __name__ == "__main__":
    sys.exit(main())
