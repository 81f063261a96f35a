//go:build !cgo || nompi

package dist

import "errors"

func loadMPI() (mpiLib, error) {
	return nil, errors.New("this preftune was built without cgo (or with the build tag nompi): it cannot load OpenMPI; rebuild with CGO_ENABLED=1")
}
