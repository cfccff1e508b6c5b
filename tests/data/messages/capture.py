#!/usr/bin/env python3
"""Regenerates the captured DNS messages in this directory (and the message fuzz seeds).

Runs a throw-away `named` on loopback, puts a tiny UDP proxy in front of it and lets
`dig`, `kdig` and `nsupdate` talk through the proxy; the proxy saves every query and
response as received. Loopback only; needs BIND 9.18 and Knot's kdig.

    python3 tests/data/messages/capture.py
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "..", "fuzz", "corpus", "message")
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="

ZONE = """$TTL 3600
@       SOA ns1 hostmaster 2024010101 3600 900 604800 300
        NS ns1
        NS ns2
        MX 10 mail
ns1     A 127.0.0.1
ns2     A 127.0.0.2
mail    A 127.0.0.3
        AAAA ::3
www     CNAME mail
big     TXT "%s"
""" % ("x" * 200)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy(threading.Thread):
    def __init__(self, upstream):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.upstream = upstream
        self.log = []

    def run(self):
        while True:
            query, client = self.sock.recvfrom(65535)
            self.log.append(query)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(2)
                up.sendto(query, ("127.0.0.1", self.upstream))
                try:
                    response, _ = up.recvfrom(65535)
                except socket.timeout:
                    continue
            self.log.append(response)
            self.sock.sendto(response, client)


def main():
    work = tempfile.mkdtemp(prefix="hsync-capture-")
    port = free_port()
    with open(os.path.join(work, "example.zone"), "w") as f:
        f.write(ZONE)
    with open(os.path.join(work, "named.conf"), "w") as f:
        f.write("""
key "tsig.example." { algorithm hmac-sha256; secret "%s"; };
options { directory "%s"; listen-on port %d { 127.0.0.1; }; listen-on-v6 { none; };
          pid-file "named.pid"; recursion no; allow-update { any; }; };
zone "example." { type primary; file "example.zone"; };
""" % (SECRET, work, port))
    named = subprocess.Popen(["named", "-g", "-c", os.path.join(work, "named.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        proxy = Proxy(port)
        proxy.start()
        p = str(proxy.port)

        def run(name, *cmd, n=2, stdin=None):
            before = len(proxy.log)
            r = subprocess.run(list(cmd), input=stdin, text=True, capture_output=True, timeout=20)
            if os.environ.get("VERBOSE"):
                print(r.stdout, r.stderr)
            time.sleep(0.2)
            got = proxy.log[before:]
            for i, data in enumerate(got[:n]):
                suffix = "query" if i % 2 == 0 else "response"
                fname = "%s.%s.bin" % (name, suffix)
                with open(os.path.join(HERE, fname), "wb") as out:
                    out.write(data)
                print(fname, len(data))

        dig = ["dig", "@127.0.0.1", "-p", p, "+tries=1", "+time=2"]
        run("dig-noedns-mx", *dig, "+noedns", "example.", "MX")
        run("dig-edns-ns", *dig, "+dnssec", "+nocookie", "example.", "NS")
        run("dig-cookie-soa", *dig, "+cookie", "example.", "SOA")
        run("dig-tsig-soa", *dig, "-y", "hmac-sha256:tsig.example.:" + SECRET, "example.", "SOA")
        run("dig-msoption-notify", *dig, "+opcode=notify", "+norec", "+nocookie",
            "+ednsopt=65050:01010100000100020001", "example.", "SOA")
        run("kdig-edns-padding", "kdig", "@127.0.0.1", "-p", p, "+retry=0", "+edns",
            "+padding=64", "+nsid", "www.example.", "A")
        keydir = os.path.join(work, "keys")
        os.mkdir(keydir)
        keygen = subprocess.run(["dnssec-keygen", "-K", keydir, "-a", "ECDSAP256SHA256", "-T", "KEY",
                                 "-n", "HOST", "sig0.example."], capture_output=True, text=True,
                                check=True)
        key = os.path.join(keydir, keygen.stdout.strip() + ".private")
        run("nsupdate-sig0", "nsupdate", "-k", key,
            stdin="server 127.0.0.1 %s\nzone example.\nupdate add new.example. 300 A 192.0.2.1\n"
                  "send\n" % p)
    finally:
        named.terminate()
        named.wait()
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(CORPUS, exist_ok=True)
    for f in os.listdir(HERE):
        if f.endswith(".bin"):
            shutil.copy(os.path.join(HERE, f), os.path.join(CORPUS, f[:-4]))


if __name__ == "__main__":
    sys.exit(main())
