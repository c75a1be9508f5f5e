// compose-check loads a Compose file the way Docker Compose v2 does (compose-go: schema validation,
// interpolation, references between services) and prints the resolved project as JSON, every profile
// included.  No Docker engine is needed, so docker-compose.yml is checked on machines without one.
//
//	go run ./scripts/compose-check docker-compose.yml
//
// Exit status: 0 valid, 1 invalid (the reason on standard error), 2 usage.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check FILE [FILE...]")
		os.Exit(2)
	}
	opts, err := cli.NewProjectOptions(
		os.Args[1:],
		cli.WithOsEnv,
		cli.WithWorkingDirectory("."),
		cli.WithName("whence"),
		cli.WithProfiles([]string{"*"}),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
