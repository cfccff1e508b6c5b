#!/usr/bin/env python3
"""Regenerates the SIG(0) interop data of tests/unit/agent_message_guard_test.cc.

Makes two SIG(0) keys for agent.p1.lab. with BIND's dnssec-keygen (only the public halves
are kept), lets BIND's `dig -k` send a SIG(0)-signed NOTIFY to a UDP listener on loopback,
and saves the datagram exactly as received. The listener never answers: dig gives up
after one try, which is all we need.

    python3 tests/data/agent/capture.py

Writes here:
    dig-sig0-notify.bin        the NOTIFY signed by dig with the "signer" key
    agent.p1.lab.signer.key    that key's public half (KEY record, BIND's file format)
    agent.p1.lab.other.key     a second key of the same owner and algorithm
"""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
OWNER = "agent.p1.lab."


def keygen(workdir):
    out = subprocess.run(
        ["dnssec-keygen", "-q", "-K", workdir, "-T", "KEY", "-a", "ECDSAP256SHA256",
         "-n", "HOST", OWNER],
        check=True, capture_output=True, text=True)
    return os.path.join(workdir, out.stdout.strip())


def capture_one(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    port = sock.getsockname()[1]
    received = []

    def listen():
        data, _ = sock.recvfrom(65535)
        received.append(data)

    listener = threading.Thread(target=listen)
    listener.start()
    subprocess.run(["dig", "-p", str(port), "@127.0.0.1", "+tries=1", "+timeout=1"] + args,
                   capture_output=True)
    listener.join()
    sock.close()
    return received[0]


def main():
    with tempfile.TemporaryDirectory() as workdir:
        signer = keygen(workdir)
        other = keygen(workdir)
        shutil.copy(signer + ".key", os.path.join(HERE, "agent.p1.lab.signer.key"))
        shutil.copy(other + ".key", os.path.join(HERE, "agent.p1.lab.other.key"))
        wire = capture_one(["-k", signer + ".private", "+opcode=notify", "example.lab.", "SOA"])
        with open(os.path.join(HERE, "dig-sig0-notify.bin"), "wb") as f:
            f.write(wire)
        print("saved %d octets signed by %s" % (len(wire), os.path.basename(signer)))


if __name__ == "__main__":
    main()
