# Shortcuts for the scripts in build/; the scripts work without make.
.PHONY: module migrate deb demo test test-all bench clean

module:
	build/module.sh

migrate:
	build/migrate.sh

deb:
	build/deb.sh

demo:
	build/demo.sh

test:
	build/test.sh

test-all:
	build/test.sh --all

clean:
	rm -rf build/out build/nginx-*/ build/deb .build .build-sanitize .build-abi

bench:
	build/bench.sh
