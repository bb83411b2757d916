//! The flood page: one self-contained HTML file that replays traced queries on the overlay.
//!
//! `gnutella view TRACE --out flood.html` turns a trace (`crate::trace`) into a page a
//! teacher opens from disk: the overlay drawn on a canvas, peers coloured by the hop at
//! which the query first reached them, play / pause / step by hop or by event, a slider
//! over hops or milliseconds, the per-hop table whose totals equal the query's record, a
//! hit's way back to the origin on a click, PNG export. Nothing is fetched: the script,
//! the style and the data are inline, and the page uses no library.
//!
//! The page is deterministic: the layout is computed here from a seed ([`layout`]) and
//! the data is written in a fixed order, so the same trace and seed give the same bytes.
//! The page ingests trace steps as rows it can append to (`gnutellaView.addRows`), so a
//! running network can later feed it live ([`page`] holds the row format).
//!
//! For tests and scripting the page exposes `window.gnutellaView` (see `assets/view.js`).

pub mod layout;
pub mod page;

pub use page::{render, render_live, Encoded, LiveRows, RowEncoder, ViewError, ViewOptions};
