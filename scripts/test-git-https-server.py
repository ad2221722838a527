#!/usr/bin/env python3
"""Minimal HTTPS Git server for herald-git's integration tests.

Serves every repository under --project-root through `git http-backend` (CGI) and
requires HTTP basic authentication. Standard library only.

The expected password is read from the HERALD_TEST_HTTP_PASSWORD environment
variable so that it never appears in process arguments.

Usage:
    HERALD_TEST_HTTP_PASSWORD=... test-git-https-server.py \
        --port 8443 --cert server.pem --key server.key \
        --project-root /path/to/repos --user alice
"""

import argparse
import base64
import hmac
import http.server
import os
import ssl
import subprocess
import sys


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    parser.add_argument("--key", required=True, help="server private key (PEM)")
    parser.add_argument("--project-root", required=True, help="directory holding the repositories")
    parser.add_argument("--user", required=True, help="the only accepted user name")
    return parser.parse_args()


def make_handler(project_root, user, password):
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    class GitHandler(http.server.BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection keeps the CGI plumbing simple.
        protocol_version = "HTTP/1.0"

        def do_GET(self):
            self.serve()

        def do_POST(self):
            self.serve()

        def serve(self):
            supplied = self.headers.get("Authorization", "")
            # Constant-time comparison, as a real server would do.
            if not hmac.compare_digest(supplied.encode(), expected.encode()):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="herald-test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.run_http_backend(self.read_body())

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return self.read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def read_chunked(self):
            body = bytearray()
            while True:
                size_line = self.rfile.readline().split(b";", 1)[0].strip()
                size = int(size_line, 16)
                if size == 0:
                    # Skip optional trailers up to the terminating blank line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()

        def run_http_backend(self, body):
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": project_root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "GATEWAY_INTERFACE": "CGI/1.1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": user,
                "REMOTE_ADDR": self.client_address[0],
                "SERVER_PROTOCOL": self.request_version,
            }
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            result = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
            )
            if result.stderr:
                sys.stderr.write(result.stderr.decode(errors="replace"))
            self.send_cgi_output(result.stdout)

        def send_cgi_output(self, output):
            head, _, payload = output.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = output.partition(b"\n\n")
            status = 200
            headers = []
            for line in head.decode(errors="replace").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format, *args):
            sys.stderr.write("https-git-server: " + (format % args) + "\n")

    return GitHandler


def main():
    args = parse_args()
    password = os.environ.get("HERALD_TEST_HTTP_PASSWORD")
    if not password:
        sys.exit("HERALD_TEST_HTTP_PASSWORD must be set")
    handler = make_handler(os.path.abspath(args.project_root), args.user, password)
    server = http.server.ThreadingHTTPServer((args.host, args.port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
