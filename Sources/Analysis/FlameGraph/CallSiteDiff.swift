import TraceIO
import TraceModel

/// A call site as two runs of a program can both name it: function, source file and line (not an
/// address: the runs load code at different addresses).
public struct CallSiteKey: Hashable, Comparable, Sendable {
    /// The function's name.
    public var function: String
    /// The source file (empty when debug info has none).
    public var file: String
    /// The source line (0 when unknown).
    public var line: Int

    /// Creates a key.
    public init(function: String, file: String, line: Int) {
        self.function = function
        self.file = file
        self.line = line
    }

    public static func < (a: CallSiteKey, b: CallSiteKey) -> Bool {
        (a.function, a.file, a.line) < (b.function, b.file, b.line)
    }

    /// `function  file.c:12` (the file's last path component), or the function alone.
    public var description: String {
        guard !file.isEmpty else { return function }
        let short = file.split(separator: "/").last.map(String.init) ?? file
        return line > 0 ? "\(function)  \(short):\(line)" : "\(function)  \(short)"
    }
}

/// How one call site's figure changed between two runs.
public struct CallSiteChange: Sendable, Equatable {
    /// The call site.
    public var site: CallSiteKey
    /// The figure before (bytes or a count, per the kind compared).
    public var before: UInt64
    /// The figure after.
    public var after: UInt64
    /// Blocks or allocations before.
    public var beforeCount: UInt64
    /// Blocks or allocations after.
    public var afterCount: UInt64

    /// `after - before` (negative: the site shrank).
    public var delta: Int64 { Int64(bitPattern: after &- before) }
}

/// Compares two profiles call site by call site: the first frame of each stack outside the C/C++
/// runtime libraries, matched by function, file and line.
public enum CallSiteDiff {
    /// The changes for `kind`, sites that did not change left out, biggest change first.
    public static func compare(before: StackProfile, after: StackProfile, kind: FlameGraphKind) -> [CallSiteChange] {
        var figures: [CallSiteKey: CallSiteChange] = [:]
        for (profile, isAfter) in [(before, false), (after, true)] {
            for (site, stats) in sites(of: profile) {
                var change = figures[site] ?? CallSiteChange(site: site, before: 0, after: 0, beforeCount: 0, afterCount: 0)
                if isAfter {
                    change.after &+= kind.weight(stats)
                    change.afterCount &+= kind.count(stats)
                } else {
                    change.before &+= kind.weight(stats)
                    change.beforeCount &+= kind.count(stats)
                }
                figures[site] = change
            }
        }
        return figures.values.filter { $0.before != $0.after }.sorted {
            let a = $0.delta.magnitude, b = $1.delta.magnitude
            return a != b ? a > b : $0.site < $1.site
        }
    }

    /// Per call site figures of one profile.
    public static func sites(of profile: StackProfile) -> [CallSiteKey: StackStatistics] {
        var result: [CallSiteKey: StackStatistics] = [:]
        var siteByIP: [UInt64: CallSiteKey?] = [:]
        for sample in profile.samples {
            var site: CallSiteKey?
            var fallback: CallSiteKey?
            for ip in profile.stacks.frames(of: sample.stack) {
                let known: CallSiteKey?
                if let cached = siteByIP[ip] {
                    known = cached
                } else {
                    known = siteKey(profile.symbols[ip] ?? [], ip: ip)
                    siteByIP[ip] = .some(known)
                }
                if fallback == nil { fallback = firstKey(profile.symbols[ip] ?? [], ip: ip) }
                if let known {
                    site = known
                    break
                }
            }
            let key = site ?? fallback ?? CallSiteKey(function: "(no stack)", file: "", line: 0)
            result[key, default: StackStatistics()].add(sample.figures)
        }
        return result
    }

    private static func firstKey(_ frames: [SymbolizedFrame], ip: UInt64) -> CallSiteKey {
        guard let f = frames.first else { return CallSiteKey(function: "0x" + String(ip, radix: 16), file: "", line: 0) }
        return CallSiteKey(function: f.function, file: f.file ?? "", line: f.line ?? 0)
    }

    /// The innermost frame of an address outside the runtime libraries, if any.
    private static func siteKey(_ frames: [SymbolizedFrame], ip: UInt64) -> CallSiteKey? {
        guard let f = frames.first(where: { !isRuntimeLibrary($0.module) }) else { return nil }
        return CallSiteKey(function: f.function, file: f.file ?? "", line: f.line ?? 0)
    }

    /// Libraries whose frames are allocator plumbing rather than the caller's intent.
    static func isRuntimeLibrary(_ path: String) -> Bool {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return name.hasPrefix("libc.so") || name.hasPrefix("libstdc++.so") || name.hasPrefix("libc++.so")
            || name.hasPrefix("libc++abi.so") || name.hasPrefix("ld-linux") || name.hasPrefix("libgcc_s.so")
    }
}
