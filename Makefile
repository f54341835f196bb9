# Shortcuts for the scripts in build/; the scripts work without make.
.PHONY: module migrate demo test bench clean

module:
	build/module.sh

migrate:
	build/migrate.sh

demo:
	build/demo.sh

test:
	build/test.sh

clean:
	rm -rf build/out build/nginx-src .build

bench:
	build/bench.sh
