#include "mematlas_trace_schema.h"
