// MemorySimulators
