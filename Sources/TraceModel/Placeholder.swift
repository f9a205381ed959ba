// TraceModel
