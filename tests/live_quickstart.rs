//! The shipped quickstart network, live in one process: the far file is found and
//! downloaded byte for byte from the peer that holds it; a short TTL does not reach it.

mod live_support;

use std::io::Read;

use gnutella::net::download::{download, DownloadOptions, DownloadRequest};
use gnutella::net::hits::files_of;
use gnutella::net::network::Network;
use gnutella::protocol::Sha1;
use gnutella::topology::{SyntheticReader, TopologyConfig};
use live_support::{bounded, search, shipped_on_ephemeral_ports, start};

fn quickstart() -> TopologyConfig {
    shipped_on_ephemeral_ports("quickstart.json")
}

const FAR_WORDS: &str = "deep space";
const FAR_NAME: &str = "deep-space-field-recordings.ogg";

fn listen_of(network: &Network, id: &str) -> std::net::SocketAddrV4 {
    network.peers()[network.peer_index(id).unwrap()].listen
}

// One thread runs the whole network in FIFO order, so the flood advances breadth-first
// and the first copy reaches each peer along a shortest path, as on equal-latency links.
// (With several threads, a descheduled thread can let a longer path win on a loaded
// machine, and the hit then comes back along that longer path.)
#[tokio::test(flavor = "current_thread")]
async fn quickstart_finds_and_downloads_the_far_file_but_not_with_a_short_ttl() {
    bounded("quickstart", async {
        let config = quickstart();
        let seed = config.defaults.seed;
        let size = config
            .peers
            .iter()
            .flat_map(|p| &p.share.files)
            .find(|f| f.name == FAR_NAME)
            .expect("the far file is in the config")
            .size;
        let mut network = start(config).await;
        let p0 = network.peer_index("p0").unwrap();

        // Short TTLs first, while no result cache has seen the file.
        for ttl in [2, 3] {
            let (short, _) = search(&network, p0, FAR_WORDS, ttl).await;
            assert!(
                !short.success,
                "TTL {ttl} must not reach the file 4 hops away"
            );
            assert_eq!(short.hits, 0);
        }

        let (record, events) = search(&network, p0, FAR_WORDS, 7).await;
        assert!(record.success, "{record:?}");
        assert_eq!(record.first_hit_hops, Some(4));
        assert_eq!(record.responders, 1);
        let files: Vec<_> = events.iter().flat_map(files_of).collect();
        let file = files
            .iter()
            .find(|f| f.record.name == FAR_NAME)
            .expect("a hit for the far file");
        assert_eq!(
            file.holder,
            listen_of(&network, "p8"),
            "the hit names the real holder"
        );

        let dir = tempfile::tempdir().unwrap();
        let request = DownloadRequest::from_hit(file.holder_addr(), &file.record);
        let done = download(&request, &DownloadOptions::new(dir.path()))
            .await
            .expect("download");
        let got = std::fs::read(&done.path).unwrap();
        let mut expected = Vec::new();
        SyntheticReader::new(seed, FAR_NAME, size)
            .read_to_end(&mut expected)
            .unwrap();
        assert_eq!(got.len() as u64, size);
        assert!(
            got == expected,
            "the downloaded bytes differ from the holder's file"
        );
        assert_eq!(
            Some(Sha1::of_bytes(&got)),
            file.record.sha1(),
            "SHA-1 matches the hit's URN"
        );
        network.shutdown().await;
    })
    .await;
}
