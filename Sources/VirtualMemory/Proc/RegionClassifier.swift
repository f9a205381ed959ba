/// Names what each region is for, from its name, rights, neighbours and the threads' stack pointers.
enum RegionClassifier {
    /// Largest inaccessible region still called a guard page, in bytes (bigger ones are reservations).
    static let largestGuardBytes: UInt64 = 1 << 20

    /// Classifies `regions` (in address order) of a process whose executable is `executablePath`
    /// and whose threads' stack pointers are `threadStackPointers`.
    static func classify(
        _ regions: [Region], executablePath: String?, threadStackPointers: [VirtualAddress]
    ) -> [Region] {
        var result = regions
        for index in result.indices {
            result[index].kind = kind(of: result, at: index, executablePath: executablePath,
                                      threadStackPointers: threadStackPointers, classifiedBefore: result)
        }
        return result
    }

    private static func kind(
        of regions: [Region], at index: Int, executablePath: String?,
        threadStackPointers: [VirtualAddress], classifiedBefore: [Region]
    ) -> RegionKind {
        let region = regions[index]
        let name = region.name.hasSuffix(" (deleted)") ? String(region.name.dropLast(10)) : region.name
        switch name {
        case "[heap]": return .heap
        case "[stack]": return .mainStack
        case "[vdso]": return .vdso
        case "[vsyscall]": return .vsyscall
        default: break
        }
        if name.hasPrefix("[vvar") { return .vvar }
        if name.hasPrefix("[stack:") { return .threadStack }
        if let executablePath, name == executablePath {
            if region.permissions.execute { return .programText }
            return region.permissions.write ? .programData : .programReadOnlyData
        }
        if name.hasPrefix("/dev/shm/") || name.hasPrefix("/memfd:") || name.hasPrefix("/SYSV") { return .sharedMemory }
        if name.hasPrefix("/") {
            let base = name.split(separator: "/").last.map(String.init) ?? name
            return base.contains(".so") ? .sharedLibrary : .fileMapping
        }
        // Anonymous memory (no name, or `[anon:...]`).
        if region.permissions.isNoAccess {
            return region.sizeBytes <= largestGuardBytes ? .guardPage : .reserved
        }
        if threadStackPointers.contains(where: { region.contains($0) }) { return .threadStack }
        if index > 0 {
            let previous = classifiedBefore[index - 1]
            let adjacent = previous.end == region.start
            if adjacent && name.isEmpty && region.permissions.write
                && (previous.kind == .programData || previous.kind == .programReadOnlyData)
                && previous.name == executablePath {
                return .programBSS
            }
            // glibc puts a thread's guard page directly below its stack.
            if adjacent && previous.permissions.isNoAccess && previous.sizeBytes <= largestGuardBytes
                && region.permissions.write && !region.permissions.execute && name.isEmpty
                && region.sizeBytes >= 64 * 1024 && region.sizeBytes <= 64 << 20
                && !region.vmFlags.contains("hg") {
                return .threadStack
            }
        }
        return .anonymous
    }
}
