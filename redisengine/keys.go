package redisengine

import "strconv"

// Key layout. Every key of a channel, and its pub/sub channel, carry the
// hash tag of the channel's partition, so that a script touching them runs
// on one Cluster node and they all move together:
//
//	<prefix>{<tag>}:m:<channel>   meta hash: base, last, run (the Redis run id of the incarnation)
//	<prefix>{<tag>}:s:<channel>   stream of the buffered events, MAXLEN --replay-buffer, entry id <id>-0
//	<prefix>{<tag>}:n:<channel>   hash: node id -> that node's subscribers on the channel
//	<prefix>{<tag>}:p:<channel>   pub/sub channel of the channel's events
//	<prefix>{<tag>}:nodes         hash: node id -> its lease's end (Unix ms), per partition
//	<prefix>{<tag>}:rv            cache of the server's run id (100 ms)
//	<prefix>{<tag>}:probe         pub/sub channel the partition's connection is probed on
//
// Every key has a TTL: a channel's keys --channel-idle-ttl after their last
// use, the partition keys a minute.

// numPartitions is how many partitions the channels are spread over: each
// has its own pub/sub connection per node, and its own hash tag, picked so
// that the partitions' slots are spread evenly over a Cluster's nodes.
const numPartitions = 16

// hashSlots is the number of Redis Cluster hash slots.
const hashSlots = 16384

// partitionTags returns one hash tag per partition: tag i is the first of
// "rt<i>-<k>" whose slot lies in the i-th sixteenth of the slot space, so
// that a Cluster's masters, which own contiguous slot ranges, get their
// share of partitions (short tags chosen naively collide: one node would
// hold most of them).
func partitionTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		lo, hi := i*hashSlots/n, (i+1)*hashSlots/n
		for k := 0; ; k++ {
			t := "rt" + strconv.Itoa(i) + "-" + strconv.Itoa(k)
			if s := int(crc16(t) % hashSlots); s >= lo && s < hi {
				tags[i] = t
				break
			}
		}
	}
	return tags
}

// partitionOf returns the partition of channel name.
func partitionOf(name string, n int) int {
	return int(crc16(name)) % n
}

// crc16 is CRC-16/XMODEM, the checksum Redis Cluster computes slots with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// keys are the names of one channel's keys.
type keys struct {
	meta, stream, counts, pubsub, nodes, rv string
}

// partition key prefix: "<prefix>{<tag>}:".
func partitionPrefix(prefix, tag string) string { return prefix + "{" + tag + "}:" }

func channelKeys(pp, name string) keys {
	return keys{
		meta:   pp + "m:" + name,
		stream: pp + "s:" + name,
		counts: pp + "n:" + name,
		pubsub: pp + "p:" + name,
		nodes:  pp + "nodes",
		rv:     pp + "rv",
	}
}
