//! Runs the ordering simulation over many seeds; `SIM_SEEDS` raises the count (default 2,000) and `SIM_START`
//! moves the first seed. A failure names the seed and the command that replays it.

use sim::{OrderingSimOptions, run_ordering_seeds};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map_or(default, |value| value.parse().unwrap_or_else(|_| panic!("{name}={value}: not a number")))
}

#[test]
fn ordering_simulation_holds_its_invariants_over_many_seeds() {
    let seeds = env_u64("SIM_SEEDS", 2_000);
    let start = env_u64("SIM_START", 0);
    match run_ordering_seeds(start, seeds, &OrderingSimOptions::default()) {
        Ok(totals) => {
            assert_eq!(totals.seeds, seeds);
            // The simulation must actually exercise the mechanisms, or its silence proves nothing.
            assert!(totals.ordered > seeds * 20, "too little ordered: {totals:?}");
            assert!(
                totals.retransmitted > 0 && totals.crashes > 0 && totals.lost > 0 && totals.members_returned > 0,
                "faults not exercised: {totals:?}"
            );
            eprintln!("{totals:?}");
        }
        Err(violation) => panic!("{violation}"),
    }
}

#[test]
fn a_seed_replays_identically() {
    let options = OrderingSimOptions::default();
    let first = sim::run_ordering(7, &options).expect("seed 7 passes");
    let second = sim::run_ordering(7, &options).expect("seed 7 passes");
    assert_eq!(first, second);
}
