// How an MPI run shares its members and GPUs (runtime/rank_plan.h) and how
// a launch is recognised (runtime/launcher_env.h), without MPI: every member
// on exactly one rank, in whole groups of the batch; each rank's GPUs from
// its node-local rank; launches that would compute the forecast several
// times over are named.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "runtime/launcher_env.h"
#include "runtime/rank_plan.h"

using namespace gencast;

TEST_CASE("rank plan: every member on one rank, in whole groups, blocks in rank order",
          "[rank_plan]") {
  std::mt19937 rng(12);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t members = std::uniform_int_distribution<int64_t>(1, 60)(rng);
    const int64_t batch = std::uniform_int_distribution<int64_t>(1, 9)(rng);
    const int size = std::uniform_int_distribution<int>(1, 17)(rng);
    INFO("members " << members << " batch " << batch << " ranks " << size);
    int64_t next = 0, busy = 0, largest = 0, smallest = members;
    for (int r = 0; r < size; ++r) {
      const MemberRange range = rank_member_range(members, batch, r, size);
      if (range.empty()) continue;
      ++busy;
      REQUIRE(range.first == next);          // contiguous, in rank order
      REQUIRE(range.first % batch == 0);     // starts a group of the one-process run
      REQUIRE((range.last % batch == 0 || range.last == members));  // ends one
      next = range.last;
      largest = std::max(largest, (range.size() + batch - 1) / batch);
      smallest = std::min(smallest, (range.size() + batch - 1) / batch);
    }
    REQUIRE(next == members);  // every member, none twice
    const int64_t groups = (members + batch - 1) / batch;
    CHECK(busy == std::min<int64_t>(groups, size));
    CHECK(largest - smallest <= 1);  // groups shared evenly
  }
  CHECK(rank_member_range(5, 2, 0, 2).first == 0);
  CHECK(rank_member_range(5, 2, 0, 2).last == 2);  // 3 groups {0,1} {2,3} {4}: 1, then 2
  CHECK(rank_member_range(5, 2, 1, 2).first == 2);
  CHECK(rank_member_range(5, 2, 1, 2).last == 5);
  // More ranks than groups: the first ranks (rank 0 merges at the end) idle.
  CHECK(rank_member_range(2, 1, 0, 4).empty());
  CHECK(rank_member_range(2, 1, 1, 4).empty());
  CHECK(rank_member_range(2, 1, 3, 4).first == 1);
}

TEST_CASE("rank plan: GPUs from the node-local rank, composing with --devices", "[rank_plan]") {
  using V = std::vector<std::string>;
  // The default cuda:0 with 4 ranks on a 4-GPU node: one GPU each.
  for (int l = 0; l < 4; ++l) {
    const RankDevices d = rank_devices({"cuda:0"}, l, 4, 4);
    CHECK(d.devices == V{"cuda:" + std::to_string(l)});
    CHECK(d.sharing.empty());
  }
  // Two GPUs per rank, two ranks per node.
  CHECK(rank_devices({"cuda:0", "cuda:1"}, 1, 2, 4).devices == V{"cuda:2", "cuda:3"});
  // Two workers on one GPU per rank.
  CHECK(rank_devices({"cuda:0", "cuda:0"}, 3, 4, 4).devices == V{"cuda:3", "cuda:3"});
  // One visible GPU per rank (the launcher bound them): cuda:0 everywhere, no warning.
  const RankDevices bound = rank_devices({"cuda:0"}, 2, 4, 1);
  CHECK(bound.devices == V{"cuda:0"});
  CHECK(bound.sharing.empty());
  // More ranks than GPUs: shared, and said so.
  const RankDevices shared = rank_devices({"cuda:0"}, 3, 4, 2);
  CHECK(shared.devices == V{"cuda:1"});
  CHECK(!shared.sharing.empty());
  // "all": contiguous blocks of the node's GPUs.
  CHECK(rank_devices({"all"}, 0, 2, 8).devices == V{"cuda:0", "cuda:1", "cuda:2", "cuda:3"});
  CHECK(rank_devices({"all"}, 1, 2, 8).devices == V{"cuda:4", "cuda:5", "cuda:6", "cuda:7"});
  CHECK(rank_devices({"all"}, 2, 3, 4).devices == V{"cuda:2", "cuda:3"});
  const RankDevices few = rank_devices({"all"}, 3, 4, 2);
  CHECK(few.devices == V{"cuda:1"});
  CHECK(!few.sharing.empty());
  // auto (the default device) is the rank's own first GPU; without GPUs it stays auto.
  CHECK(rank_devices({"auto"}, 2, 4, 4).devices == V{"cuda:2"});
  CHECK(rank_devices({"auto"}, 1, 2, 0).devices == V{"auto"});
  // CPU workers and GPU-less nodes: as given (the device check names the problem).
  CHECK(rank_devices({"cpu", "cpu"}, 1, 2, 4).devices == V{"cpu", "cpu"});
  CHECK(rank_devices({"cuda:1"}, 1, 2, 0).devices == V{"cuda:1"});
  CHECK(rank_devices({"all"}, 1, 2, 0).devices == V{"all"});
}

TEST_CASE("rank plan: a rank's share in words", "[rank_plan]") {
  const std::vector<int64_t> ids = {0, 1, 2, 3, 7, 9};
  CHECK(describe_rank_share(ids, {0, 4}, {"cuda:0"}) == "members 0-3 (4) on cuda:0");
  CHECK(describe_rank_share(ids, {3, 6}, {"cpu", "cpu"}) == "members 3,7,9 (3) on cpu, cpu");
  CHECK(describe_rank_share(ids, {4, 5}, {"cuda:1"}) == "member 7 (1) on cuda:1");
  CHECK(describe_rank_share(ids, {6, 6}, {"cpu"}).find("no members") != std::string::npos);
}

TEST_CASE("launcher: mpirun, PMI, PMIx and srun are recognised from the environment",
          "[launcher]") {
  auto env_of = [](std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  LauncherEnv none = detect_launcher(env_of({{"HOME", "/root"}}));
  CHECK(!none.mpi);
  CHECK(launcher_problem(none, false, 0).empty());
  CHECK(launcher_problem(none, true, 0).empty());

  const LauncherEnv ompi = detect_launcher(
      env_of({{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_RANK", "2"}, {"PMIX_RANK", "2"}}));
  CHECK(ompi.mpi);
  CHECK(ompi.size == 4);
  CHECK(ompi.rank == 2);
  CHECK(launcher_problem(ompi, true, 4).empty());
  // Four copies of a build without MPI would each compute the whole forecast.
  CHECK(launcher_problem(ompi, false, 0).find("without MPI") != std::string::npos);
  // mpirun -n 1 of a build without MPI is just one process.
  CHECK(launcher_problem(detect_launcher(env_of({{"OMPI_COMM_WORLD_SIZE", "1"}})), false, 0).empty());

  const LauncherEnv pmi = detect_launcher(env_of({{"PMI_SIZE", "8"}, {"PMI_RANK", "7"}}));
  CHECK((pmi.mpi && pmi.size == 8 && pmi.rank == 7));
  const LauncherEnv pmix = detect_launcher(env_of({{"PMIX_RANK", "3"}, {"SLURM_STEP_NUM_TASKS", "4"}}));
  CHECK((pmix.mpi && pmix.size == 0 && pmix.rank == 3 && pmix.slurm_tasks == 4));
  CHECK(launcher_problem(pmix, true, 4).empty());
  // srun with 4 tasks but no MPI plugin: each task is an MPI job of one.
  const LauncherEnv bare_srun = detect_launcher(env_of({{"SLURM_STEP_NUM_TASKS", "4"}}));
  CHECK(!bare_srun.mpi);
  CHECK(launcher_problem(bare_srun, true, 0).find("--mpi=pmix") != std::string::npos);
  CHECK(launcher_problem(pmix, true, 1).find("--mpi=pmix") != std::string::npos);
  CHECK(launcher_problem(bare_srun, false, 0).find("without MPI") != std::string::npos);
  // Not numbers: not a launch.
  CHECK(!detect_launcher(env_of({{"OMPI_COMM_WORLD_SIZE", "x"}})).mpi);
}
