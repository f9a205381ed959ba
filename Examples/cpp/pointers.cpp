// Passing an object by value copies it; a reference or a pointer passes only its address; smart
// pointers own it. Recorded, each way shows up (or does not) among the call sites:
//   passed_by_value:      10 copies of the robot = 10 x (64 KiB sensor array + 48-byte name)
//   passed_by_reference:  no allocation        passed_by_pointer: no allocation
//   owned_by_unique_ptr:  1 robot (new) + its array + its name, freed when the owner goes
//   shared_by_shared_ptr: 1 block holding the robot and its reference count (make_shared) + array +
//                         name, shared by 10 owners and watched by a weak pointer: no more blocks
//   leaked_raw_pointer:   1 robot made with new and never deleted: a leak of 3 blocks
// Build: c++ -O1 -g -fno-omit-frame-pointer -o pointers pointers.cpp
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

struct Robot {
    std::vector<double> sensors = std::vector<double>(8192, 1.0);  // 64 KiB
    std::string name = std::string(47, 'r');                        // longer than the inline buffer: 48 bytes
    double odometer = 0;
};

// noinline: each way of passing keeps a frame of its own in the call stacks.
__attribute__((noinline)) double drive_by_value(Robot robot) { return robot.sensors[0] + robot.odometer; }
__attribute__((noinline)) double drive_by_reference(const Robot &robot) { return robot.sensors[1] + robot.odometer; }
__attribute__((noinline)) double drive_by_pointer(const Robot *robot) { return robot->sensors[2] + robot->odometer; }

__attribute__((noinline)) double passed_by_value(const Robot &robot) {
    double total = 0;
    for (int i = 0; i < 10; i++) total += drive_by_value(robot);  // the copy is made here
    return total;
}

__attribute__((noinline)) double passed_by_reference(const Robot &robot) {
    double total = 0;
    for (int i = 0; i < 10; i++) total += drive_by_reference(robot);
    return total;
}

__attribute__((noinline)) double passed_by_pointer(const Robot &robot) {
    double total = 0;
    for (int i = 0; i < 10; i++) total += drive_by_pointer(&robot);
    return total;
}

__attribute__((noinline)) double owned_by_unique_ptr() {
    std::unique_ptr<Robot> owner = std::make_unique<Robot>();
    std::unique_ptr<Robot> next_owner = std::move(owner);  // ownership moves; nothing is copied
    return next_owner->sensors[3];
}

__attribute__((noinline)) double shared_by_shared_ptr() {
    std::shared_ptr<Robot> first = std::make_shared<Robot>();
    std::vector<std::shared_ptr<Robot>> owners(10, first);  // the owners' vector is one block
    std::weak_ptr<Robot> watcher = first;
    double total = 0;
    for (auto &owner : owners) total += owner->sensors[4];
    if (auto alive = watcher.lock()) total += alive.use_count();  // 12 owners now: first, 10, alive
    return total;
}

__attribute__((noinline)) Robot *leaked_raw_pointer() { return new Robot(); }

int main() {
    Robot robot;
    double total = passed_by_value(robot) + passed_by_reference(robot) + passed_by_pointer(robot);
    total += owned_by_unique_ptr() + shared_by_shared_ptr();
    Robot *lost = leaked_raw_pointer();
    total += lost->sensors[5];
    lost = nullptr;  // the last pointer to it is gone: a leak
    std::printf("total %.0f\n", total);
    return 0;
}
