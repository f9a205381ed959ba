// Header-only target: the trace schema lives in include/mematlas_trace_schema.h.
