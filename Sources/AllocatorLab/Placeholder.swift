// AllocatorLab
