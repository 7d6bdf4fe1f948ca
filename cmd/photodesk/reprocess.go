package main

import (
	"context"
	"errors"
)

func runReprocess(ctx context.Context, args []string) error {
	return errors.New("not implemented yet")
}
