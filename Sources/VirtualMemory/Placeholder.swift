// VirtualMemory
