"""The documentation's whole configurations (the ```nginx blocks of README.md and docs/*.md that
are a whole `http { }` block, not a fragment with a `...` line: the identity-in example and the
Keycloak, Auth0 and Entra ID recipes) pass `nginx -t` with the module, once their key files exist and their upstreams are on loopback
(nginx resolves host names when it loads a configuration)."""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import MODULE, NGINX, ROOT, SANITIZER, free_port

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [(page.name, block) for page in PAGES
          for block in re.findall(r"```nginx\n(http \{.*?\n\})\n```", page.read_text(), re.S)
          if not re.search(r"(?m)^\s*\.\.\.\s*$", block)]


def test_the_recipes_are_found():
    assert len([p for p, _ in BLOCKS if p == "identity-in.md"]) >= 4, [p for p, _ in BLOCKS]


@pytest.mark.parametrize("page, block", BLOCKS, ids=[f"{p}-{i}" for i, (p, _) in enumerate(BLOCKS)])
def test_configuration_passes_nginx_t(page, block, keys):
    prefix = Path(tempfile.mkdtemp(prefix="bjwt-docconf-"))
    try:
        prefix.chmod(0o755)
        files = {}

        def local(match):  # every file the block names: a key the module accepts there
            path = match.group(0)
            if path not in files:
                files[path] = keys.rsa
            return files[path]

        text = re.sub(r"/etc/nginx/[\w/.-]+\.(?:pem|json)", local, block)
        text = re.sub(r"proxy_pass https?://[^;]+;", "proxy_pass http://127.0.0.1:9;", text)
        text = text.replace("    server {", f"    server {{\n        listen 127.0.0.1:{free_port()};", 1)
        temp = " ".join(f"{name}_temp_path {prefix}/{name};" for name in
                        ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        text = text.replace("http {", f"http {{\n    access_log off; {temp}", 1)
        conf = prefix / "nginx.conf"
        conf.write_text(f"load_module {MODULE};\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
                        f"events {{ }}\n{text}\n")
        p = subprocess.run([NGINX, "-t", "-p", f"{prefix}/", "-c", str(conf), "-e", f"{prefix}/error.log"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"{page}:\n{p.stderr}\n{conf.read_text()}"
        assert not SANITIZER.search(p.stderr), p.stderr
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
