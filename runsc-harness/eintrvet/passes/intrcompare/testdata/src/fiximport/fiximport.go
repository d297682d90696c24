package fiximport

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func a(err error) bool {
	fmt.Println()
	return err == unix.EINTR // want `use errors.Is`
}

func b(err error) bool {
	return !(err != unix.EINTR) // want `use errors.Is`
}

func c(err error) bool {
	errors := 1
	_ = errors
	return err == unix.EINTR // want `use errors.Is`
}
