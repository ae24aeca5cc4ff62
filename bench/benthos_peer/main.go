// The Benthos peer of bench/peers.py: a Benthos v4 binary with only the `pure` and `io`
// component sets, run with a config the benchmark writes (a bloblang mapping with the same
// regexes as the other peers). Built into .cache/ by bench/peers.py when `go` is available.
package main

import (
	"context"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
)

func main() {
	service.RunCLI(context.Background())
}
