#include "mematlas_shims.h"
