// TraceIO
