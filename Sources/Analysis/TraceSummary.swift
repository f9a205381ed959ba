import TraceIO
import TraceModel

/// Reads a trace once and produces its summary: the whole `mematlas summary` job as a library call.
public enum TraceSummary {
    /// Streams the trace at `path` through `HeapAnalysis`, then builds the report.
    /// - Parameter progress: called now and then with how far the read has come.
    public static func summarize(path: String, top: Int = 10, progress: ((ReadProgress) -> Void)? = nil) throws -> (SummaryReport, HeapProfile, TraceReader) {
        let reader = try TraceReader(path: path)
        let session = LLVMSymbolizerSession.warmingUp(reader)
        var analysis = HeapAnalysis()
        try reader.read(into: &analysis, progress: progress)
        let profile = analysis.finish()
        let symbolizer = Symbolizer(moduleMaps: reader.moduleMaps, session: session)
        let report = SummaryBuilder(top: top).build(reader: reader, profile: profile, symbolizer: symbolizer)
        return (report, profile, reader)
    }
}
