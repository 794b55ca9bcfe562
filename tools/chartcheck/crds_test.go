package chartcheck

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Mirrors of the custom resources in deploy/ whose Go types cannot be
// imported (CloudNativePG's api module and cert-manager are not available
// as small modules). They list only the fields our manifests use, with the
// upstream JSON names (cloudnative-pg api/v1 cluster_types.go and
// pooler_types.go, release 1.25+; cert-manager.io/v1 Certificate), so a
// misspelt or misplaced field still fails strict decoding. A field added to
// the manifests must be added here, after checking its upstream name.

type cnpgCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Instances             int    `json:"instances"`
		ImageName             string `json:"imageName,omitempty"`
		PrimaryUpdateStrategy string `json:"primaryUpdateStrategy,omitempty"`
		PostgreSQL            struct {
			Parameters  map[string]string `json:"parameters,omitempty"`
			Synchronous *struct {
				Method         string `json:"method"`
				Number         int    `json:"number"`
				DataDurability string `json:"dataDurability,omitempty"`
			} `json:"synchronous,omitempty"`
		} `json:"postgresql"`
		Bootstrap struct {
			InitDB struct {
				Database      string `json:"database"`
				Owner         string `json:"owner"`
				Encoding      string `json:"encoding,omitempty"`
				LocaleCollate string `json:"localeCollate,omitempty"`
				LocaleCType   string `json:"localeCType,omitempty"`
			} `json:"initdb"`
		} `json:"bootstrap"`
		Managed struct {
			Roles []struct {
				Name            string `json:"name"`
				Ensure          string `json:"ensure,omitempty"`
				Login           bool   `json:"login,omitempty"`
				ConnectionLimit int    `json:"connectionLimit,omitempty"`
				PasswordSecret  *struct {
					Name string `json:"name"`
				} `json:"passwordSecret,omitempty"`
				InRoles []string `json:"inRoles,omitempty"`
			} `json:"roles,omitempty"`
		} `json:"managed"`
		Storage    cnpgStorage                 `json:"storage"`
		WalStorage *cnpgStorage                `json:"walStorage,omitempty"`
		Resources  corev1.ResourceRequirements `json:"resources"`
		Affinity   struct {
			EnablePodAntiAffinity *bool  `json:"enablePodAntiAffinity,omitempty"`
			PodAntiAffinityType   string `json:"podAntiAffinityType,omitempty"`
			TopologyKey           string `json:"topologyKey,omitempty"`
		} `json:"affinity"`
		Monitoring struct {
			EnablePodMonitor bool `json:"enablePodMonitor,omitempty"`
		} `json:"monitoring"`
	} `json:"spec"`
}

type cnpgStorage struct {
	Size         string  `json:"size"`
	StorageClass *string `json:"storageClass,omitempty"`
}

type cnpgPooler struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Cluster struct {
			Name string `json:"name"`
		} `json:"cluster"`
		Instances int    `json:"instances"`
		Type      string `json:"type"`
		PgBouncer struct {
			PoolMode   string            `json:"poolMode"`
			Parameters map[string]string `json:"parameters,omitempty"`
		} `json:"pgbouncer"`
	} `json:"spec"`
}

type certManagerCertificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName  string `json:"secretName"`
		Duration    string `json:"duration,omitempty"`
		RenewBefore string `json:"renewBefore,omitempty"`
		PrivateKey  struct {
			Algorithm      string `json:"algorithm,omitempty"`
			Size           int    `json:"size,omitempty"`
			RotationPolicy string `json:"rotationPolicy,omitempty"`
		} `json:"privateKey"`
		Usages    []string `json:"usages,omitempty"`
		DNSNames  []string `json:"dnsNames,omitempty"`
		IssuerRef struct {
			Kind  string `json:"kind"`
			Name  string `json:"name"`
			Group string `json:"group,omitempty"`
		} `json:"issuerRef"`
	} `json:"spec"`
}
