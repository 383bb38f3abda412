// The xDS bench's peer: go-control-plane's SnapshotCache and SotW ADS server
// (the library most Go control planes are built on), serving the very
// DiscoveryResponses our control plane pushed, as captured by the bench's
// clients, to the same client harness. Driven by bench/xds-peer.ts over
// stdin/stdout, one JSON request or reply per line; it exits when stdin closes,
// so it never outlives the bench.
//
// What it measures is what bench/xds-server.ts measures for ours: each
// response's time from the server handing it to the stream until the client's
// next request on that type carries its nonce (the ACK), per phase.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	// The four resource types the clients subscribe to, registered for anypb.UnmarshalNew.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// The 4 MiB receive limit of src/xds/server.ts's MAX_REQUEST_BYTES is far above any bench request.
const maxRequestBytes = 4 * 1024 * 1024

var subscribed = []string{resource.ListenerType, resource.RouteType, resource.ClusterType, resource.EndpointType}

type request struct {
	ID   int             `json:"id"`
	Cmd  string          `json:"cmd"`
	Args json.RawMessage `json:"args"`
}

type reply struct {
	ID     int    `json:"id"`
	Result any    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

type streamKey struct {
	stream int64
	typ    string
}

type sent struct {
	nonce string
	at    time.Time
}

// recorder is one phase's responses, ACKs and latencies (callbacks run on many goroutines).
type recorder struct {
	outstanding map[streamKey]sent
	latencies   []float64
	pushes      int
	byType      map[string]int
	nodes       map[string]bool
	nacks       int
	firstSent   time.Time
	lastAck     time.Time
	cpu0        time.Duration
}

type peer struct {
	mu        sync.Mutex
	cache     cachev3.SnapshotCache
	snapshots map[string]*cachev3.Snapshot
	nodeOf    map[int64]string
	rec       *recorder
	// storm: per node, the types ACKed at the snapshot's version; complete: when all four were.
	acked    map[string]map[string]bool
	complete map[string]int64
	grpc     *grpc.Server
}

func newRecorder() *recorder {
	return &recorder{outstanding: map[streamKey]sent{}, byType: map[string]int{}, nodes: map[string]bool{}, cpu0: cpuTime()}
}

func (p *peer) onResponse(_ context.Context, id int64, _ *discovery.DiscoveryRequest, out *discovery.DiscoveryResponse) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rec
	if r == nil {
		return
	}
	// Callbacks run on the streams' goroutines and take the clock before the lock: min and max, not first and last.
	if r.firstSent.IsZero() || now.Before(r.firstSent) {
		r.firstSent = now
	}
	r.outstanding[streamKey{id, out.TypeUrl}] = sent{out.Nonce, now}
	r.pushes++
	r.byType[shortType(out.TypeUrl)]++
	r.nodes[p.nodeOf[id]] = true
}

func (p *peer) onRequest(id int64, req *discovery.DiscoveryRequest) error {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if req.Node != nil && req.Node.Id != "" {
		p.nodeOf[id] = req.Node.Id
	}
	node := p.nodeOf[id]
	if req.ResponseNonce == "" {
		return nil
	}
	if r := p.rec; r != nil {
		k := streamKey{id, req.TypeUrl}
		if s, ok := r.outstanding[k]; ok && s.nonce == req.ResponseNonce {
			delete(r.outstanding, k)
			if req.ErrorDetail != nil {
				r.nacks++
			} else {
				r.latencies = append(r.latencies, float64(now.Sub(s.at).Microseconds())/1000)
				if now.After(r.lastAck) {
					r.lastAck = now
				}
			}
		}
	}
	if p.complete != nil && req.ErrorDetail == nil {
		if _, done := p.complete[node]; !done {
			if snap := p.snapshots[node]; snap != nil && snap.GetVersion(req.TypeUrl) == req.VersionInfo {
				set := p.acked[node]
				if set == nil {
					set = map[string]bool{}
					p.acked[node] = set
				}
				set[req.TypeUrl] = true
				if len(set) == len(subscribed) {
					p.complete[node] = now.UnixMilli()
				}
			}
		}
	}
	return nil
}

func shortType(url string) string {
	switch url {
	case resource.ListenerType:
		return "listeners"
	case resource.RouteType:
		return "routes"
	case resource.ClusterType:
		return "clusters"
	case resource.EndpointType:
		return "endpoints"
	}
	return url
}

// capture reads a bench capture (capture.json: node -> response sizes; capture.bin: the responses in that order).
func readCapture(dir string) (map[string][]*discovery.DiscoveryResponse, []string, error) {
	var index []struct {
		ID    string `json:"id"`
		Sizes []int  `json:"sizes"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "capture.json"))
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		return nil, nil, err
	}
	blob, err := os.ReadFile(filepath.Join(dir, "capture.bin"))
	if err != nil {
		return nil, nil, err
	}
	out := map[string][]*discovery.DiscoveryResponse{}
	var order []string
	pos := 0
	for _, n := range index {
		order = append(order, n.ID)
		for _, size := range n.Sizes {
			if pos+size > len(blob) {
				return nil, nil, fmt.Errorf("capture index runs past the %d bytes of capture.bin", len(blob))
			}
			msg := &discovery.DiscoveryResponse{}
			if err := proto.Unmarshal(blob[pos:pos+size], msg); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", n.ID, err)
			}
			pos += size
			out[n.ID] = append(out[n.ID], msg)
		}
	}
	if pos != len(blob) {
		return nil, nil, fmt.Errorf("capture index covers %d of %d bytes", pos, len(blob))
	}
	return out, order, nil
}

func resourcesOf(resp *discovery.DiscoveryResponse) (cachev3.Resources, error) {
	items := make([]types.Resource, 0, len(resp.Resources))
	for _, a := range resp.Resources {
		m, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{})
		if err != nil {
			return cachev3.Resources{}, err
		}
		items = append(items, m)
	}
	return cachev3.NewResources(resp.VersionInfo, items), nil
}

// withResponses is node's current snapshot with each response's type replaced by the response's resources and version.
func (p *peer) withResponses(node string, resps []*discovery.DiscoveryResponse) (*cachev3.Snapshot, error) {
	next := &cachev3.Snapshot{}
	if cur := p.snapshots[node]; cur != nil {
		next.Resources = cur.Resources
	}
	for _, r := range resps {
		res, err := resourcesOf(r)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", node, r.TypeUrl, err)
		}
		next.Resources[cachev3.GetResponseType(r.TypeUrl)] = res
	}
	return next, nil
}

// lastPerType keeps, of one node's responses in order, the last of each type: the state the node ends with.
func lastPerType(resps []*discovery.DiscoveryResponse) []*discovery.DiscoveryResponse {
	last := map[string]*discovery.DiscoveryResponse{}
	for _, r := range resps {
		last[r.TypeUrl] = r
	}
	out := make([]*discovery.DiscoveryResponse, 0, len(last))
	for _, t := range subscribed {
		if r, ok := last[t]; ok {
			out = append(out, r)
		}
	}
	return out
}

// set installs node's snapshot and returns how many of the subscribed types changed version (each one push).
func (p *peer) set(node string, snap *cachev3.Snapshot) (int, error) {
	p.mu.Lock()
	changed := 0
	if cur := p.snapshots[node]; cur != nil {
		for _, t := range subscribed {
			if cur.GetVersion(t) != snap.GetVersion(t) {
				changed++
			}
		}
	}
	p.snapshots[node] = snap
	p.mu.Unlock()
	return changed, p.cache.SetSnapshot(context.Background(), node, snap)
}

func (p *peer) begin() {
	p.mu.Lock()
	p.rec = newRecorder()
	p.mu.Unlock()
}

// waitSettled waits until `expected` responses were sent and every one was answered. SetSnapshot only
// hands responses to the streams' goroutines, so "nothing outstanding" alone is true before any is sent.
func (p *peer) waitSettled(expected int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		n, sent := len(p.rec.outstanding), p.rec.pushes
		p.mu.Unlock()
		if n == 0 && sent >= expected {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type latency struct {
	Count int     `json:"n"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// summarize: nearest-rank percentiles, as bench/xds-wire.ts's summarize does.
func summarize(xs []float64) latency {
	if len(xs) == 0 {
		return latency{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := func(q float64) float64 {
		i := int(q*float64(len(s))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(s) {
			i = len(s) - 1
		}
		return s[i]
	}
	return latency{Count: len(s), P50: rank(0.5), P99: rank(0.99), Max: s[len(s)-1]}
}

type phaseStats struct {
	Pushes       int            `json:"pushes"`
	PushesByKind map[string]int `json:"pushesByKind"`
	NodesPushed  int            `json:"nodesPushed"`
	Latency      latency        `json:"latency"`
	Unacked      int            `json:"unacked"`
	Nacks        int            `json:"nacks"`
	CPUS         float64        `json:"cpuS"`
	FirstSentAt  int64          `json:"firstSentAt"`
	LastAckAt    int64          `json:"lastAckAt"`
}

func (p *peer) finish() phaseStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rec
	p.rec = nil
	st := phaseStats{Pushes: r.pushes, PushesByKind: r.byType, NodesPushed: len(r.nodes), Latency: summarize(r.latencies), Unacked: len(r.outstanding), Nacks: r.nacks,
		CPUS: (cpuTime() - r.cpu0).Seconds()}
	if !r.firstSent.IsZero() {
		st.FirstSentAt = r.firstSent.UnixMilli()
	}
	if !r.lastAck.IsZero() {
		st.LastAckAt = r.lastAck.UnixMilli()
	}
	return st
}

// cpuTime is this process's user+system CPU time, from /proc/self/stat (clock ticks of 10 ms).
func cpuTime() time.Duration {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func rssBytes() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func (p *peer) handle(cmd string, args json.RawMessage) (any, error) {
	switch cmd {
	case "start":
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		// The server options of src/xds/server.ts that matter here: request size, keepalive without calls.
		p.grpc = grpc.NewServer(grpc.MaxRecvMsgSize(maxRequestBytes), grpc.MaxConcurrentStreams(1<<20),
			grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{PermitWithoutStream: true}))
		cb := serverv3.CallbackFuncs{StreamRequestFunc: p.onRequest, StreamResponseFunc: p.onResponse}
		srv := serverv3.NewServer(context.Background(), p.cache, cb)
		discovery.RegisterAggregatedDiscoveryServiceServer(p.grpc, srv)
		go func() { _ = p.grpc.Serve(lis) }()
		return map[string]any{"port": lis.Addr().(*net.TCPAddr).Port, "gomaxprocs": runtime.GOMAXPROCS(0), "go": runtime.Version()}, nil

	case "load": // the state every node ends the storm with, set before any stream connects (untimed)
		var a struct{ CaptureDir string }
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, err
		}
		capt, order, err := readCapture(a.CaptureDir)
		if err != nil {
			return nil, err
		}
		for _, node := range order {
			snap, err := p.withResponses(node, lastPerType(capt[node]))
			if err != nil {
				return nil, err
			}
			if _, err := p.set(node, snap); err != nil {
				return nil, err
			}
		}
		return map[string]any{"nodes": len(order)}, nil

	case "memory":
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return map[string]any{"rss": rssBytes(), "heapUsed": ms.HeapAlloc, "external": 0}, nil

	case "stormBegin":
		p.mu.Lock()
		p.acked = map[string]map[string]bool{}
		p.complete = map[string]int64{}
		p.mu.Unlock()
		p.begin()
		return nil, nil

	case "stormWait":
		var a struct {
			Nodes     int
			TimeoutMs int
		}
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(time.Duration(a.TimeoutMs) * time.Millisecond)
		for time.Now().Before(deadline) {
			p.mu.Lock()
			n := len(p.complete)
			p.mu.Unlock()
			if n >= a.Nodes {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		st := p.finish()
		p.mu.Lock()
		complete := p.complete
		p.complete = nil
		p.mu.Unlock()
		return map[string]any{"complete": complete, "stats": st}, nil

	case "endpoints": // replays the endpoint phase: step i pushes the next captured EDS response of each node it names
		var a struct {
			CaptureDir string
			Steps      [][]string
			IntervalMs int
			TimeoutMs  int
		}
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, err
		}
		capt, _, err := readCapture(a.CaptureDir)
		if err != nil {
			return nil, err
		}
		next := map[string]int{}
		// Decode every step's resources before timing: what ours decodes is its own business, not the replay's.
		type update struct {
			node string
			snap *discovery.DiscoveryResponse
		}
		plan := make([][]update, len(a.Steps))
		for i, step := range a.Steps {
			for _, node := range step {
				k := next[node]
				if k >= len(capt[node]) || capt[node][k].TypeUrl != resource.EndpointType {
					return nil, fmt.Errorf("step %d: %s has no captured endpoints response #%d", i, node, k+1)
				}
				next[node] = k + 1
				plan[i] = append(plan[i], update{node, capt[node][k]})
			}
		}
		p.begin()
		expected := 0
		for _, step := range plan {
			for _, u := range step {
				snap, err := p.withResponses(u.node, []*discovery.DiscoveryResponse{u.snap})
				if err != nil {
					return nil, err
				}
				n, err := p.set(u.node, snap)
				if err != nil {
					return nil, err
				}
				expected += n
			}
			time.Sleep(time.Duration(a.IntervalMs) * time.Millisecond)
		}
		p.waitSettled(expected, time.Duration(a.TimeoutMs)*time.Millisecond)
		return p.finish(), nil

	case "policy": // every node's captured responses of one policy round, set node by node in sorted order (as ours flushes)
		var a struct {
			CaptureDir string
			TimeoutMs  int
		}
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, err
		}
		capt, order, err := readCapture(a.CaptureDir)
		if err != nil {
			return nil, err
		}
		sort.Strings(order)
		snaps := make([]*cachev3.Snapshot, len(order))
		for i, node := range order {
			if snaps[i], err = p.withResponses(node, lastPerType(capt[node])); err != nil {
				return nil, err
			}
		}
		p.begin()
		t0 := time.Now()
		expected := 0
		for i, node := range order {
			n, err := p.set(node, snaps[i])
			if err != nil {
				return nil, err
			}
			expected += n
		}
		setMs := time.Since(t0).Milliseconds()
		p.waitSettled(expected, time.Duration(a.TimeoutMs)*time.Millisecond)
		return map[string]any{"stats": p.finish(), "setMs": setMs, "expected": expected}, nil

	case "stop":
		if p.grpc != nil {
			p.grpc.Stop()
		}
		return nil, nil
	}
	return nil, errors.New("unknown command " + cmd)
}

func main() {
	p := &peer{
		// ADS mode: EDS and RDS answers wait until every named resource exists, as Envoy expects.
		cache:     cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil),
		snapshots: map[string]*cachev3.Snapshot{},
		nodeOf:    map[int64]string{},
	}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			var req request
			rep := reply{}
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				rep.Error = jerr.Error()
			} else {
				rep.ID = req.ID
				res, herr := p.handle(req.Cmd, req.Args)
				if herr != nil {
					rep.Error = herr.Error()
				} else {
					rep.Result = res
				}
			}
			b, _ := json.Marshal(rep)
			_, _ = out.Write(append(b, '\n'))
			_ = out.Flush()
			if req.Cmd == "stop" {
				return
			}
		}
		if err != nil { // stdin closed: the bench is gone
			return
		}
	}
}
