// Eight threads allocate with new/std::vector/std::string and hand half of their objects to the
// next thread, which frees them: allocations freed by a different thread than made them.
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct Mailbox {
    std::mutex lock;
    std::vector<std::string *> items;
};

static Mailbox boxes[8];

static void work(int id, int rounds) {
    std::vector<std::unique_ptr<std::vector<int>>> kept;
    for (int i = 0; i < rounds; i++) {
        kept.push_back(std::make_unique<std::vector<int>>(static_cast<size_t>(i % 64 + 1), id));
        auto *message = new std::string(static_cast<size_t>(32 + i % 100), static_cast<char>('a' + id));
        std::lock_guard<std::mutex> guard(boxes[(id + 1) % 8].lock);
        boxes[(id + 1) % 8].items.push_back(message);
    }
    std::lock_guard<std::mutex> guard(boxes[id].lock);
    for (auto *item : boxes[id].items) delete item;
    boxes[id].items.clear();
}

int main() {
    std::vector<std::thread> threads;
    for (int id = 0; id < 8; id++) threads.emplace_back(work, id, 2000);
    for (auto &t : threads) t.join();
    size_t left = 0;
    for (auto &box : boxes) {
        left += box.items.size();
        for (auto *item : box.items) delete item;
        box.items.clear();
    }
    std::printf("threads done, %zu messages delivered late\n", left);
    return 0;
}
