package main

import (
	"context"
	"errors"
)

func runSetup(ctx context.Context, args []string) error {
	return errors.New("not implemented yet")
}
