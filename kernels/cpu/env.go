package cpu

import "os"

func noBlasEnv() bool { return os.Getenv("PREFTUNE_NOBLAS") != "" }
