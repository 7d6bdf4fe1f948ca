package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// scaledObject is the part of KEDA's keda.sh/v1alpha1 ScaledObject this
// base uses; decoded strictly, so a misspelt field fails.
type scaledObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		ScaleTargetRef struct {
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		PollingInterval *int32 `json:"pollingInterval"`
		CooldownPeriod  *int32 `json:"cooldownPeriod"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// natsJetStreamKeys are the nats-jetstream scaler's metadata keys.
var natsJetStreamKeys = []string{"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold", "activationLagThreshold", "useHttps"}

// manifests is the kustomize base, built and decoded.
type manifests struct {
	deployments  map[string]*appsv1.Deployment
	statefulSets map[string]*appsv1.StatefulSet
	services     map[string]*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	jobs         map[string]*batchv1.Job
	pdbs         map[string]*policyv1.PodDisruptionBudget
	scaled       map[string]*scaledObject
}

// buildK8s runs kustomize on deploy/k8s as `kubectl apply -k` would and
// decodes every object with the Kubernetes API types, strictly.
func buildK8s(t *testing.T) manifests {
	t.Helper()
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "k8s")
	if err != nil {
		t.Fatalf("kustomize build deploy/k8s: %v", err)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{appsv1.AddToScheme, batchv1.AddToScheme, corev1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	m := manifests{
		deployments: map[string]*appsv1.Deployment{}, statefulSets: map[string]*appsv1.StatefulSet{},
		services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		jobs: map[string]*batchv1.Job{}, pdbs: map[string]*policyv1.PodDisruptionBudget{}, scaled: map[string]*scaledObject{},
	}
	for _, r := range rm.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		where := r.GetKind() + " " + r.GetName()
		if r.GetNamespace() != "" {
			t.Errorf("%s has namespace %q: the base sets none", where, r.GetNamespace())
		}
		if r.GetKind() == "ScaledObject" {
			var so scaledObject
			j, err := yaml.YAMLToJSON(y)
			if err != nil {
				t.Fatal(err)
			}
			d := json.NewDecoder(bytes.NewReader(j))
			d.DisallowUnknownFields()
			if err := d.Decode(&so); err != nil || so.APIVersion != "keda.sh/v1alpha1" {
				t.Errorf("%s (%s): %v", where, so.APIVersion, err)
			}
			m.scaled[so.Metadata.Name] = &so
			continue
		}
		obj, _, err := dec.Decode(y, nil, nil)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			m.deployments[o.Name] = o
		case *appsv1.StatefulSet:
			m.statefulSets[o.Name] = o
		case *corev1.Service:
			m.services[o.Name] = o
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		case *corev1.Secret:
			m.secrets[o.Name] = o
		case *batchv1.Job:
			m.jobs[o.Name] = o
		case *policyv1.PodDisruptionBudget:
			m.pdbs[o.Name] = o
		default:
			t.Errorf("%s: a kind this test does not check", where)
		}
	}
	return m
}

// podEnv is every variable a pod's containers get (env and envFrom), after
// checking that each ConfigMap, Secret and key they name exists.
func (m manifests) podEnv(t *testing.T, where string, spec corev1.PodSpec) []string {
	t.Helper()
	var names []string
	for _, c := range spec.Containers {
		for _, ef := range c.EnvFrom {
			switch {
			case ef.ConfigMapRef != nil:
				cm, ok := m.configMaps[ef.ConfigMapRef.Name]
				if !ok {
					t.Errorf("%s: no ConfigMap %s", where, ef.ConfigMapRef.Name)
					continue
				}
				names = append(names, keys(cm.Data)...)
			case ef.SecretRef != nil:
				s, ok := m.secrets[ef.SecretRef.Name]
				if !ok {
					if ef.SecretRef.Optional == nil || !*ef.SecretRef.Optional {
						t.Errorf("%s: no Secret %s", where, ef.SecretRef.Name)
					}
					continue
				}
				names = append(names, append(keys(s.StringData), keys(s.Data)...)...)
			}
		}
		for _, e := range c.Env {
			names = append(names, e.Name)
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				continue
			}
			ref := e.ValueFrom.SecretKeyRef
			s, ok := m.secrets[ref.Name]
			_, inString := s.StringData[ref.Key]
			_, inData := s.Data[ref.Key]
			if !ok || (!inString && !inData) {
				t.Errorf("%s: %s from Secret %s key %s, which does not exist", where, e.Name, ref.Name, ref.Key)
			}
		}
	}
	return names
}

// checkProbes fails for a probe on a port its container does not declare.
func checkProbes(t *testing.T, where string, spec corev1.PodSpec) {
	t.Helper()
	for _, c := range spec.Containers {
		for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
			if p == nil || p.HTTPGet == nil {
				continue
			}
			if !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool {
				return cp.Name == p.HTTPGet.Port.String() || fmt.Sprint(cp.ContainerPort) == p.HTTPGet.Port.String()
			}) {
				t.Errorf("%s: probe %s on port %s, which container %s does not declare", where, p.HTTPGet.Path, p.HTTPGet.Port.String(), c.Name)
			}
		}
	}
}

func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

// TestKustomizeBase builds deploy/k8s and checks it against the binary and
// the pipeline's wiring: a Deployment per role running `worker --role
// <role>` with probes on its ops port, the API and its Service, the setup
// Job, PodDisruptionBudgets that select something, a KEDA ScaledObject per
// consumer on the right stream and consumer, NATS as a 3-node cluster
// whose configuration parses, MinIO distributed over at least 4 pods with
// photodesk's notification settings, and only PHOTODESK_* variables the
// binary reads.
func TestKustomizeBase(t *testing.T) {
	m := buildK8s(t)
	b := binary(t)

	roleOf := map[string]string{} // Deployment name → role
	for _, role := range b.roles {
		name := "photodesk-" + role
		d, ok := m.deployments[name]
		if !ok {
			t.Errorf("no Deployment %s for role %s", name, role)
			continue
		}
		roleOf[name] = role
		spec := d.Spec.Template.Spec
		if len(spec.Containers) != 1 {
			t.Fatalf("Deployment %s has %d containers", name, len(spec.Containers))
		}
		c := spec.Containers[0]
		if want := []string{"worker", "--role", role}; !slices.Equal(c.Args, want) || len(c.Command) > 0 {
			t.Errorf("Deployment %s runs %q %q, want args %q", name, c.Command, c.Args, want)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" ||
			c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("Deployment %s: want readiness on /readyz and liveness on /healthz", name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("Deployment %s: want CPU and memory requests and a memory limit, got %v", name, c.Resources)
		}
		if !selects(t, d.Spec.Selector, d.Spec.Template.Labels) {
			t.Errorf("Deployment %s's selector does not select its own pods", name)
		}
	}

	// The ops port the workers listen on is the one their probes use.
	cm := m.configMaps
	var settings *corev1.ConfigMap
	for n, c := range cm {
		if strings.HasPrefix(n, "photodesk-") && c.Data["PHOTODESK_NATS_URL"] != "" {
			settings = c
		}
	}
	if settings == nil {
		t.Fatal("no photodesk ConfigMap with PHOTODESK_NATS_URL")
	}
	opsPort := port(t, settings.Data["PHOTODESK_HTTP_ADDR"])
	for name := range roleOf {
		if c := m.deployments[name].Spec.Template.Spec.Containers[0]; !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return fmt.Sprint(p.ContainerPort) == opsPort }) {
			t.Errorf("Deployment %s does not declare the ops port %s", name, opsPort)
		}
	}
	if settings.Data["PHOTODESK_REPLICAS"] != "3" {
		t.Errorf("PHOTODESK_REPLICAS=%q: streams on the 3-node cluster should be R3", settings.Data["PHOTODESK_REPLICAS"])
	}

	api, ok := m.deployments["photodesk-api"]
	if !ok {
		t.Fatal("no Deployment photodesk-api")
	}
	if c := api.Spec.Template.Spec.Containers[0]; !slices.Equal(c.Args, []string{"api"}) || c.ReadinessProbe == nil {
		t.Errorf("photodesk-api runs %q, readiness %v", c.Args, c.ReadinessProbe)
	}
	svc, ok := m.services["photodesk-api"]
	if !ok || !selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, api.Spec.Template.Labels) {
		t.Errorf("the photodesk-api Service does not select the API's pods")
	} else if tp := svc.Spec.Ports[0].TargetPort.String(); !slices.ContainsFunc(api.Spec.Template.Spec.Containers[0].Ports, func(p corev1.ContainerPort) bool { return p.Name == tp }) {
		t.Errorf("the photodesk-api Service targets port %s, which the API does not declare", tp)
	}
	job, ok := m.jobs["photodesk-setup"]
	if !ok || job.Spec.Template.Spec.Containers[0].Args[0] != "setup" {
		t.Errorf("no setup Job running `photodesk setup`")
	}

	// Every pod: probes on declared ports, known variables.
	pods := map[string]corev1.PodSpec{}
	podLabels := map[string]map[string]string{}
	for n, d := range m.deployments {
		pods["Deployment "+n], podLabels["Deployment "+n] = d.Spec.Template.Spec, d.Spec.Template.Labels
	}
	for n, s := range m.statefulSets {
		pods["StatefulSet "+n], podLabels["StatefulSet "+n] = s.Spec.Template.Spec, s.Spec.Template.Labels
	}
	for n, j := range m.jobs {
		pods["Job "+n] = j.Spec.Template.Spec
	}
	for where, spec := range pods {
		checkProbes(t, where, spec)
		checkEnvKnown(t, where, m.podEnv(t, where, spec))
		for _, c := range spec.Containers {
			if !strings.Contains(c.Image, ":") {
				t.Errorf("%s: image %q has no tag", where, c.Image)
			}
		}
	}

	// PodDisruptionBudgets select pods, and every role has one.
	covered := map[string]bool{}
	for n, pdb := range m.pdbs {
		matched := false
		for where, l := range podLabels {
			if selects(t, pdb.Spec.Selector, l) {
				matched, covered[where] = true, true
			}
		}
		if !matched {
			t.Errorf("PodDisruptionBudget %s selects no Deployment's or StatefulSet's pods", n)
		}
	}
	for where := range podLabels {
		if !covered[where] {
			t.Errorf("%s has no PodDisruptionBudget", where)
		}
	}

	nats := m.checkNATS(t)
	m.checkMinIO(t, settings)

	// KEDA: one ScaledObject per consumer, on that consumer.
	scaledRoles := map[string]bool{}
	for n, so := range m.scaled {
		target := so.Spec.ScaleTargetRef.Name
		role, ok := roleOf[target]
		if !ok {
			t.Errorf("ScaledObject %s scales %q, not a role's Deployment", n, target)
			continue
		}
		spec, err := pipeline.ConsumerFor(role)
		if err != nil {
			t.Errorf("ScaledObject %s: %v", n, err)
			continue
		}
		scaledRoles[role] = true
		if m.deployments[target].Spec.Replicas != nil {
			t.Errorf("Deployment %s sets replicas, which would fight KEDA's", target)
		}
		if so.Spec.MinReplicaCount == nil || so.Spec.MaxReplicaCount == nil || *so.Spec.MaxReplicaCount < *so.Spec.MinReplicaCount {
			t.Errorf("ScaledObject %s: replica bounds %s..%s", n, ptrString(so.Spec.MinReplicaCount), ptrString(so.Spec.MaxReplicaCount))
		}
		if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "nats-jetstream" {
			t.Errorf("ScaledObject %s: want one nats-jetstream trigger", n)
			continue
		}
		md := so.Spec.Triggers[0].Metadata
		for k := range md {
			if !slices.Contains(natsJetStreamKeys, k) {
				t.Errorf("ScaledObject %s: %s is not a nats-jetstream setting", n, k)
			}
		}
		if md["stream"] != spec.Stream || md["consumer"] != spec.Role {
			t.Errorf("ScaledObject %s watches %s/%s, role %s's consumer is %s on %s", n, md["stream"], md["consumer"], role, spec.Role, spec.Stream)
		}
		if md["account"] != nats.account {
			t.Errorf("ScaledObject %s: account %q, photodesk's NATS account is %q", n, md["account"], nats.account)
		}
		host, p, err := net.SplitHostPort(md["natsServerMonitoringEndpoint"])
		if err != nil || !strings.HasPrefix(host, nats.service+".") || !strings.HasSuffix(host, ".svc.cluster.local") || p != nats.monitorPort {
			t.Errorf("ScaledObject %s: monitoring endpoint %q, want %s.<namespace>.svc.cluster.local:%s (KEDA prefixes the leader's server name)", n, md["natsServerMonitoringEndpoint"], nats.service, nats.monitorPort)
		}
		if md["lagThreshold"] == "" {
			t.Errorf("ScaledObject %s has no lagThreshold", n)
		}
	}
	for _, c := range pipeline.Consumers {
		if !scaledRoles[c.Role] {
			t.Errorf("role %s has no ScaledObject", c.Role)
		}
	}
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

type natsFacts struct {
	service, monitorPort, account string
}

// checkNATS checks the NATS StatefulSet and parses its configuration with
// the nats-server photodesk is tested with.
func (m manifests) checkNATS(t *testing.T) natsFacts {
	t.Helper()
	ss, ok := m.statefulSets["nats"]
	if !ok {
		t.Fatal("no StatefulSet nats")
	}
	if ss.Spec.Replicas == nil || *ss.Spec.Replicas != 3 {
		t.Fatalf("NATS runs %v servers, want a 3-node cluster", ptrString(ss.Spec.Replicas))
	}
	svc, ok := m.services[ss.Spec.ServiceName]
	if !ok || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Fatalf("NATS's serviceName %q is not a headless Service", ss.Spec.ServiceName)
	}
	f := natsFacts{service: svc.Name}
	for _, p := range svc.Spec.Ports {
		if p.Name == "monitor" {
			f.monitorPort = fmt.Sprint(p.Port)
		}
	}
	c := ss.Spec.Template.Spec.Containers[0]
	if want := "nats:" + natsServerMinor(t) + "-alpine"; c.Image != want {
		t.Errorf("NATS image %q, want %q (the nats-server photodesk is tested with)", c.Image, want)
	}
	var conf string
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			conf = m.configMaps[v.ConfigMap.Name].Data["nats.conf"]
		}
	}
	if conf == "" {
		t.Fatal("NATS's pods mount no ConfigMap with nats.conf")
	}
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The pod's environment, as Kubernetes would give it to nats-0.
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			t.Setenv(e.Name, ss.Name+"-0")
		case e.ValueFrom != nil:
			t.Setenv(e.Name, "from-a-secret")
		default:
			t.Setenv(e.Name, e.Value)
		}
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("deploy/k8s/nats.conf: %v", err)
	}
	if opts.ServerName != ss.Name+"-0" {
		t.Errorf("server_name %q: KEDA reaches the consumer leader as <server name>.%s…, so it must be the pod's name", opts.ServerName, svc.Name)
	}
	if !opts.JetStream || opts.Cluster.Name == "" || fmt.Sprint(opts.HTTPPort) != f.monitorPort {
		t.Errorf("nats.conf: JetStream %v, cluster %q, monitoring port %d (Service: %s)", opts.JetStream, opts.Cluster.Name, opts.HTTPPort, f.monitorPort)
	}
	var routes []string
	for _, u := range opts.Routes {
		routes = append(routes, u.Host)
	}
	var want []string
	for i := range int(*ss.Spec.Replicas) {
		want = append(want, fmt.Sprintf("%s-%d.%s:%d", ss.Name, i, svc.Name, opts.Cluster.Port))
	}
	if !slices.Equal(routes, want) {
		t.Errorf("cluster routes %v, want every pod: %v", routes, want)
	}
	users := map[string]string{}
	for _, u := range opts.Users {
		if u.Account != nil {
			users[u.Username] = u.Account.Name
		}
	}
	settings := m.photodeskSettings(t)
	f.account = users[settings.Data["PHOTODESK_NATS_USER"]]
	if f.account == "" {
		t.Errorf("nats.conf has no user %q (PHOTODESK_NATS_USER) in an account", settings.Data["PHOTODESK_NATS_USER"])
	}
	var natsURLs []string
	for i := range int(*ss.Spec.Replicas) {
		natsURLs = append(natsURLs, fmt.Sprintf("nats://%s-%d.%s:%d", ss.Name, i, svc.Name, opts.Port))
	}
	if got := settings.Data["PHOTODESK_NATS_URL"]; got != strings.Join(natsURLs, ",") {
		t.Errorf("PHOTODESK_NATS_URL=%q, want every server: %s", got, strings.Join(natsURLs, ","))
	}
	minioUser := ""
	for _, e := range m.statefulSets["minio"].Spec.Template.Spec.Containers[0].Env {
		if e.Name == "MINIO_NOTIFY_NATS_USERNAME_"+pipeline.NotifyTargetID {
			minioUser = e.Value
		}
	}
	if users[minioUser] != f.account {
		t.Errorf("MinIO's NATS user %q is not in photodesk's account %q", minioUser, f.account)
	}
	return f
}

func (m manifests) photodeskSettings(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	for n, c := range m.configMaps {
		if strings.HasPrefix(n, "photodesk-") && c.Data["PHOTODESK_NATS_URL"] != "" {
			return c
		}
	}
	t.Fatal("no photodesk ConfigMap")
	return nil
}

// checkMinIO checks MinIO: distributed over its StatefulSet's pods, with
// the notification settings photodesk dev uses, reached by photodesk
// through a Service.
func (m manifests) checkMinIO(t *testing.T, settings *corev1.ConfigMap) {
	t.Helper()
	ss, ok := m.statefulSets["minio"]
	if !ok {
		t.Fatal("no StatefulSet minio")
	}
	n := int32(0)
	if ss.Spec.Replicas != nil {
		n = *ss.Spec.Replicas
	}
	if n < 4 {
		t.Errorf("MinIO runs %d servers, want at least 4 (distributed, erasure coded)", n)
	}
	c := ss.Spec.Template.Spec.Containers[0]
	pool := fmt.Sprintf("http://%s-{0...%d}.%s.$(POD_NAMESPACE).svc.cluster.local/data", ss.Name, n-1, ss.Spec.ServiceName)
	if len(c.Args) == 0 || c.Args[0] != "server" || !slices.Contains(c.Args, pool) {
		t.Errorf("MinIO runs %q, want `server … %s`", c.Args, pool)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = "secret " + e.ValueFrom.SecretKeyRef.Name + " " + e.ValueFrom.SecretKeyRef.Key
		}
		if e.Name == "POD_NAMESPACE" && (e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.namespace") {
			t.Errorf("MinIO's POD_NAMESPACE is not the pod's namespace")
		}
	}
	if _, ok := env["POD_NAMESPACE"]; !ok {
		t.Errorf("MinIO's args use $(POD_NAMESPACE), which its env does not define")
	}
	var mounts []string
	for _, vm := range c.VolumeMounts {
		mounts = append(mounts, vm.MountPath)
	}
	checkMinIOEnv(t, "deploy/k8s MinIO", env, "nats", mounts)
	if env["MINIO_ROOT_USER"] != "secret photodesk PHOTODESK_S3_ACCESS_KEY" || env["MINIO_ROOT_PASSWORD"] != "secret photodesk PHOTODESK_S3_SECRET_KEY" {
		t.Errorf("MinIO's root keys (%s, %s) are not the ones photodesk uses", env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"])
	}
	if _, ok := m.services[ss.Spec.ServiceName]; !ok {
		t.Errorf("MinIO's serviceName %s is not a Service", ss.Spec.ServiceName)
	}
	host, p, err := net.SplitHostPort(settings.Data["PHOTODESK_S3_ENDPOINT"])
	svc, ok := m.services[host]
	if err != nil || !ok || !selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, ss.Spec.Template.Labels) ||
		!slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return fmt.Sprint(sp.Port) == p }) {
		t.Errorf("PHOTODESK_S3_ENDPOINT=%q is not a Service port in front of MinIO", settings.Data["PHOTODESK_S3_ENDPOINT"])
	}
	if img := c.Image; img != "photodesk-minio:"+devstack.MinIOVersion {
		t.Errorf("MinIO image %q, want photodesk-minio:%s (deploy/minio/Dockerfile, the build photodesk is tested with)", img, devstack.MinIOVersion)
	}
}
