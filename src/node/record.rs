//! Per-query records folded from node events (being written): the one record schema the
//! live network and the simulator share.
