/* Built-in object definitions. Facts (IDs, names, operations, multiplicity, mandatory, type,
 * range, units, versions) follow the OMA LwM2M registry DDF file of each object, in the version
 * that registry holds (see the version columns of nb_builtin_objects): objects 0, 3, 4 and 5 in
 * their releases for LwM2M 1.1, object 1 in its LwM2M 1.2 release (the only one published
 * there), objects 2, 6 and 7 in their LwM2M 1.0 releases, which LwM2M 1.1 uses unchanged.
 * test_lwm2m_ddf compares every row with the registry files. */
#include "lwm2m/objects_builtin.h"

#include "niobium/config.h"

#define NB_COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* Column spellings that keep one resource per row readable. */
#define SINGLE false
#define MULTI true
#define MAND true
#define OPT false
/* Names and descriptive texts (range, units, URN) are what a person reads; a device build
 * without NB_CFG_DEF_NAMES leaves them out (names become "", texts NULL, as for a DDF without
 * them). The objects compiled in are chosen with NB_OBJECTS (NB_CFG_OBJ_<id>). */
#if NB_CFG_DEF_NAMES
#define NB_NAME(s) s
#define NB_TEXT(s) s
#else
#define NB_NAME(s) ""
#define NB_TEXT(s) NULL
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_0
/* 0 LWM2M Security 1.2 */
static const nb_resource_def nb_res_0[] = {
    {0, NB_NAME("LWM2M  Server URI"), NB_OP_NONE, SINGLE, MAND, NB_VT_STRING, NB_TEXT("0..255"),
     NULL},
    {1, NB_NAME("Bootstrap-Server"), NB_OP_NONE, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {2, NB_NAME("Security Mode"), NB_OP_NONE, SINGLE, MAND, NB_VT_INT, NB_TEXT("0..4"), NULL},
    {3, NB_NAME("Public Key or Identity"), NB_OP_NONE, SINGLE, MAND, NB_VT_OPAQUE, NULL, NULL},
    {4, NB_NAME("Server Public Key"), NB_OP_NONE, SINGLE, MAND, NB_VT_OPAQUE, NULL, NULL},
    {5, NB_NAME("Secret Key"), NB_OP_NONE, SINGLE, MAND, NB_VT_OPAQUE, NULL, NULL},
    {6, NB_NAME("SMS Security Mode"), NB_OP_NONE, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..255"), NULL},
    {7, NB_NAME("SMS Binding Key Parameters"), NB_OP_NONE, SINGLE, OPT, NB_VT_OPAQUE, NB_TEXT("6"),
     NULL},
    {8, NB_NAME("SMS Binding Secret Key(s)"), NB_OP_NONE, SINGLE, OPT, NB_VT_OPAQUE,
     NB_TEXT("16,32,48"), NULL},
    {9, NB_NAME("LwM2M Server SMS Number"), NB_OP_NONE, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {10, NB_NAME("Short Server ID"), NB_OP_NONE, SINGLE, OPT, NB_VT_INT, NB_TEXT("1..65534"), NULL},
    {11, NB_NAME("Client Hold Off Time"), NB_OP_NONE, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("s")},
    {12, NB_NAME("Bootstrap-Server Account Timeout"), NB_OP_NONE, SINGLE, OPT, NB_VT_INT, NULL,
     NB_TEXT("s")},
    {13, NB_NAME("Matching Type"), NB_OP_NONE, SINGLE, OPT, NB_VT_UINT, NB_TEXT("0..3"), NULL},
    {14, NB_NAME("SNI"), NB_OP_NONE, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {15, NB_NAME("Certificate Usage"), NB_OP_NONE, SINGLE, OPT, NB_VT_UINT, NB_TEXT("0..3"), NULL},
    {16, NB_NAME("DTLS/TLS Ciphersuite"), NB_OP_NONE, MULTI, OPT, NB_VT_UINT, NULL, NULL},
    {17, NB_NAME("OSCORE Security Mode"), NB_OP_NONE, SINGLE, OPT, NB_VT_OBJLNK, NULL, NULL},
    {18, NB_NAME("Groups To Use by Client"), NB_OP_NONE, MULTI, OPT, NB_VT_UINT,
     NB_TEXT("0..65535"), NULL},
    {19, NB_NAME("Signature Algorithms Supported by Server"), NB_OP_NONE, MULTI, OPT, NB_VT_UINT,
     NB_TEXT("0..65535"), NULL},
    {20, NB_NAME("Signature Algorithms To Use by Client"), NB_OP_NONE, MULTI, OPT, NB_VT_UINT,
     NB_TEXT("0..65535"), NULL},
    {21, NB_NAME("Signature Algorithm Certs Supported by Server"), NB_OP_NONE, MULTI, OPT,
     NB_VT_UINT, NB_TEXT("0..65535"), NULL},
    {22, NB_NAME("TLS 1.3 Features To Use by Client"), NB_OP_NONE, SINGLE, OPT, NB_VT_UINT,
     NB_TEXT("0..65535"), NULL},
    {23, NB_NAME("TLS Extensions Supported by Server"), NB_OP_NONE, SINGLE, OPT, NB_VT_UINT,
     NB_TEXT("0..65535"), NULL},
    {24, NB_NAME("TLS Extensions To Use by Client"), NB_OP_NONE, SINGLE, OPT, NB_VT_UINT,
     NB_TEXT("0..65535"), NULL},
    {25, NB_NAME("Secondary LwM2M Server URI"), NB_OP_NONE, MULTI, OPT, NB_VT_STRING,
     NB_TEXT("0..255"), NULL},
    {26, NB_NAME("MQTT Server"), NB_OP_NONE, SINGLE, OPT, NB_VT_OBJLNK, NULL, NULL},
    {27, NB_NAME("LwM2M COSE Security"), NB_OP_NONE, MULTI, OPT, NB_VT_OBJLNK, NULL, NULL},
    {28, NB_NAME("RDS Destination Port"), NB_OP_NONE, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..15"),
     NULL},
    {29, NB_NAME("RDS Source Port"), NB_OP_NONE, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..15"), NULL},
    {30, NB_NAME("RDS Application ID"), NB_OP_NONE, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_1
/* 1 LwM2M Server 1.2 */
static const nb_resource_def nb_res_1[] = {
    {0, NB_NAME("Short Server ID"), NB_OP_R, SINGLE, MAND, NB_VT_INT, NB_TEXT("1..65534"), NULL},
    {1, NB_NAME("Lifetime"), NB_OP_RW, SINGLE, MAND, NB_VT_INT, NULL, NB_TEXT("s")},
    {2, NB_NAME("Default Minimum Period"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("s")},
    {3, NB_NAME("Default Maximum Period"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("s")},
    {4, NB_NAME("Disable"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5, NB_NAME("Disable Timeout"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("s")},
    {6, NB_NAME("Notification Storing When Disabled or Offline"), NB_OP_RW, SINGLE, MAND,
     NB_VT_BOOL, NULL, NULL},
    {7, NB_NAME("Binding"), NB_OP_RW, SINGLE, MAND, NB_VT_STRING, NULL, NULL},
    {8, NB_NAME("Registration Update Trigger"), NB_OP_E, SINGLE, MAND, NB_VT_NONE, NULL, NULL},
    {9, NB_NAME("Bootstrap-Request Trigger"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {10, NB_NAME("APN Link"), NB_OP_RW, SINGLE, OPT, NB_VT_OBJLNK, NULL, NULL},
    {11, NB_NAME("TLS-DTLS Alert Code"), NB_OP_R, SINGLE, OPT, NB_VT_UINT, NB_TEXT("0..255"), NULL},
    {12, NB_NAME("Last Bootstrapped"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {13, NB_NAME("Registration Priority Order"), NB_OP_R, SINGLE, OPT, NB_VT_UINT, NULL, NULL},
    {14, NB_NAME("Initial Registration Delay Timer"), NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL,
     NB_TEXT("s")},
    {15, NB_NAME("Registration Failure Block"), NB_OP_R, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
    {16, NB_NAME("Bootstrap on Registration Failure"), NB_OP_R, SINGLE, OPT, NB_VT_BOOL, NULL,
     NULL},
    {17, NB_NAME("Communication Retry Count"), NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL, NULL},
    {18, NB_NAME("Communication Retry Timer"), NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL,
     NB_TEXT("s")},
    {19, NB_NAME("Communication Sequence Delay Timer"), NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL,
     NB_TEXT("s")},
    {20, NB_NAME("Communication Sequence Retry Count"), NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL,
     NULL},
    {21, NB_NAME("Trigger"), NB_OP_RW, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
    {22, NB_NAME("Preferred Transport"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING,
     NB_TEXT("The possible values are those listed in the LwM2M Core Specification"), NULL},
    {23, NB_NAME("Mute Send"), NB_OP_RW, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
    {24, NB_NAME("Alternate APN Links"), NB_OP_RW, MULTI, OPT, NB_VT_OBJLNK, NULL, NULL},
    {25, NB_NAME("Supported Server Versions"), NB_OP_RW, MULTI, OPT, NB_VT_STRING, NULL, NULL},
    {26, NB_NAME("Default Notification Mode"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..1"),
     NULL},
    {27, NB_NAME("Profile ID Hash Algorithm"), NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NB_TEXT("0..255"),
     NULL},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_2
/* 2 LwM2M Access Control 1.1 */
static const nb_resource_def nb_res_2[] = {
    {0, NB_NAME("Object ID"), NB_OP_R, SINGLE, MAND, NB_VT_INT, NB_TEXT("1..65534"), NULL},
    {1, NB_NAME("Object Instance ID"), NB_OP_R, SINGLE, MAND, NB_VT_INT, NB_TEXT("0..65535"), NULL},
    {2, NB_NAME("ACL"), NB_OP_RW, MULTI, OPT, NB_VT_INT, NB_TEXT("0..31"), NULL},
    {3, NB_NAME("Access Control Owner"), NB_OP_RW, SINGLE, MAND, NB_VT_INT, NB_TEXT("0..65535"),
     NULL},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3
/* 3 Device 1.2 */
static const nb_resource_def nb_res_3[] = {
    {0, NB_NAME("Manufacturer"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {1, NB_NAME("Model Number"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {2, NB_NAME("Serial Number"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {3, NB_NAME("Firmware Version"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {4, NB_NAME("Reboot"), NB_OP_E, SINGLE, MAND, NB_VT_NONE, NULL, NULL},
    {5, NB_NAME("Factory Reset"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {6, NB_NAME("Available Power Sources"), NB_OP_R, MULTI, OPT, NB_VT_INT, NB_TEXT("0..7"), NULL},
    {7, NB_NAME("Power Source Voltage"), NB_OP_R, MULTI, OPT, NB_VT_INT, NULL, NULL},
    {8, NB_NAME("Power Source Current"), NB_OP_R, MULTI, OPT, NB_VT_INT, NULL, NULL},
    {9, NB_NAME("Battery Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NB_TEXT("/100")},
    {10, NB_NAME("Memory Free"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {11, NB_NAME("Error Code"), NB_OP_R, MULTI, MAND, NB_VT_INT, NB_TEXT("0..32"), NULL},
    {12, NB_NAME("Reset Error Code"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {13, NB_NAME("Current Time"), NB_OP_RW, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {14, NB_NAME("UTC Offset"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {15, NB_NAME("Timezone"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {16, NB_NAME("Supported Binding and Modes"), NB_OP_R, SINGLE, MAND, NB_VT_STRING, NULL, NULL},
    {17, NB_NAME("Device Type"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {18, NB_NAME("Hardware Version"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {19, NB_NAME("Software Version"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {20, NB_NAME("Battery Status"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..6"), NULL},
    {21, NB_NAME("Memory Total"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {22, NB_NAME("ExtDevInfo"), NB_OP_R, MULTI, OPT, NB_VT_OBJLNK, NULL, NULL},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_4
/* 4 Connectivity Monitoring 1.3 */
static const nb_resource_def nb_res_4[] = {
    {0, NB_NAME("Network Bearer"), NB_OP_R, SINGLE, MAND, NB_VT_INT, NB_TEXT("0..50"), NULL},
    {1, NB_NAME("Available Network Bearer"), NB_OP_R, MULTI, MAND, NB_VT_INT, NB_TEXT("0..50"),
     NULL},
    {2, NB_NAME("Radio Signal Strength"), NB_OP_R, SINGLE, MAND, NB_VT_INT, NULL, NB_TEXT("dBm")},
    {3, NB_NAME("Link Quality"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {4, NB_NAME("IP Addresses"), NB_OP_R, MULTI, MAND, NB_VT_STRING, NULL, NULL},
    {5, NB_NAME("Router IP Addresses"), NB_OP_R, MULTI, OPT, NB_VT_STRING, NULL, NULL},
    {6, NB_NAME("Link Utilization"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NB_TEXT("/100")},
    {7, NB_NAME("APN"), NB_OP_R, MULTI, OPT, NB_VT_STRING, NULL, NULL},
    {8, NB_NAME("Cell ID"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {9, NB_NAME("SMNC"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..999"), NULL},
    {10, NB_NAME("SMCC"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..999"), NULL},
    {11, NB_NAME("SignalSNR"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("dB")},
    {12, NB_NAME("LAC"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {13, NB_NAME("Coverage Enhancement Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..4"),
     NULL},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_5
/* 5 Firmware Update 1.2 */
static const nb_resource_def nb_res_5[] = {
    {0, NB_NAME("Package"), NB_OP_W, SINGLE, MAND, NB_VT_OPAQUE, NULL, NULL},
    {1, NB_NAME("Package URI"), NB_OP_RW, SINGLE, MAND, NB_VT_STRING, NB_TEXT("0..255"), NULL},
    {2, NB_NAME("Update"), NB_OP_E, SINGLE, MAND, NB_VT_NONE, NULL, NULL},
    {3, NB_NAME("State"), NB_OP_R, SINGLE, MAND, NB_VT_INT, NB_TEXT("0..3"), NULL},
    {5, NB_NAME("Update Result"), NB_OP_R, SINGLE, MAND, NB_VT_INT, NB_TEXT("0..11"), NULL},
    {6, NB_NAME("PkgName"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NB_TEXT("0..255"), NULL},
    {7, NB_NAME("PkgVersion"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NB_TEXT("0..255"), NULL},
    {8, NB_NAME("Firmware Update Protocol Support"), NB_OP_R, MULTI, OPT, NB_VT_INT,
     NB_TEXT("0..5"), NULL},
    {9, NB_NAME("Firmware Update Delivery Method"), NB_OP_R, SINGLE, MAND, NB_VT_INT,
     NB_TEXT("0..2"), NULL},
    {10, NB_NAME("Cancel"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {11, NB_NAME("Severity"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..2"), NULL},
    {12, NB_NAME("Last State Change Time"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {13, NB_NAME("Maximum Defer Period"), NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL, NB_TEXT("s")},
    {14, NB_NAME("Automatic Upgrade at Download"), NB_OP_RW, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_6
/* 6 Location 1.0 */
static const nb_resource_def nb_res_6[] = {
    {0, NB_NAME("Latitude"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NB_TEXT("lat")},
    {1, NB_NAME("Longitude"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NB_TEXT("lon")},
    {2, NB_NAME("Altitude"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NB_TEXT("m")},
    {3, NB_NAME("Radius"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NB_TEXT("m")},
    {4, NB_NAME("Velocity"), NB_OP_R, SINGLE, OPT, NB_VT_OPAQUE, NULL, NULL},
    {5, NB_NAME("Timestamp"), NB_OP_R, SINGLE, MAND, NB_VT_TIME, NULL, NULL},
    {6, NB_NAME("Speed"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NB_TEXT("m/s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_7
/* 7 Connectivity Statistics 1.0 */
static const nb_resource_def nb_res_7[] = {
    {0, NB_NAME("SMS Tx Counter"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {1, NB_NAME("SMS Rx Counter"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {2, NB_NAME("Tx Data"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {3, NB_NAME("Rx Data"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {4, NB_NAME("Max Message Size"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("B")},
    {5, NB_NAME("Average Message Size"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("B")},
    {6, NB_NAME("Start"), NB_OP_E, SINGLE, MAND, NB_VT_NONE, NULL, NULL},
    {7, NB_NAME("Stop"), NB_OP_E, SINGLE, MAND, NB_VT_NONE, NULL, NULL},
    {8, NB_NAME("Collection Period"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3200
/* 3200 Digital Input 1.1 */
static const nb_resource_def nb_res_3200[] = {
    {5500, NB_NAME("Digital Input State"), NB_OP_R, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5501, NB_NAME("Digital Input Counter"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {5502, NB_NAME("Digital Input Polarity"), NB_OP_RW, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
    {5503, NB_NAME("Digital Input Debounce"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL,
     NB_TEXT("ms")},
    {5504, NB_NAME("Digital Input Edge Selection"), NB_OP_RW, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("1..3"), NULL},
    {5505, NB_NAME("Digital Input Counter Reset"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5751, NB_NAME("Sensor Type"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3201
/* 3201 Digital Output 1.1 */
static const nb_resource_def nb_res_3201[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5550, NB_NAME("Digital Output State"), NB_OP_RW, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5551, NB_NAME("Digital Output Polarity"), NB_OP_RW, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3202
/* 3202 Analog Input 1.1 */
static const nb_resource_def nb_res_3202[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5600, NB_NAME("Analog Input Current Value"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5601, NB_NAME("Min Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, NB_NAME("Max Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, NB_NAME("Min Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, NB_NAME("Max Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, NB_NAME("Reset Min and Max Measured Values"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL,
     NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5751, NB_NAME("Sensor Type"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3203
/* 3203 Analog Output 1.1 */
static const nb_resource_def nb_res_3203[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5603, NB_NAME("Min Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, NB_NAME("Max Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5650, NB_NAME("Analog Output Current Value"), NB_OP_RW, SINGLE, MAND, NB_VT_FLOAT,
     NB_TEXT("0..1"), NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3300
/* 3300 Generic Sensor 1.1 */
static const nb_resource_def nb_res_3300[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, NB_NAME("Min Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, NB_NAME("Max Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, NB_NAME("Min Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, NB_NAME("Max Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, NB_NAME("Reset Min and Max Measured Values"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL,
     NULL},
    {5700, NB_NAME("Sensor Value"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, NB_NAME("Sensor Units"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5751, NB_NAME("Sensor Type"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3301
/* 3301 Illuminance 1.1 */
static const nb_resource_def nb_res_3301[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, NB_NAME("Min Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, NB_NAME("Max Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, NB_NAME("Min Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, NB_NAME("Max Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, NB_NAME("Reset Min and Max Measured Values"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL,
     NULL},
    {5700, NB_NAME("Sensor Value"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, NB_NAME("Sensor Units"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3302
/* 3302 Presence 1.1 */
static const nb_resource_def nb_res_3302[] = {
    {5500, NB_NAME("Digital Input State"), NB_OP_R, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5501, NB_NAME("Digital Input Counter"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {5505, NB_NAME("Digital Input Counter Reset"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5751, NB_NAME("Sensor Type"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5903, NB_NAME("Busy to Clear delay"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("ms")},
    {5904, NB_NAME("Clear to Busy delay"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("ms")},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3303
/* 3303 Temperature 1.1 */
static const nb_resource_def nb_res_3303[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, NB_NAME("Min Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, NB_NAME("Max Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, NB_NAME("Min Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, NB_NAME("Max Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, NB_NAME("Reset Min and Max Measured Values"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL,
     NULL},
    {5700, NB_NAME("Sensor Value"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, NB_NAME("Sensor Units"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3304
/* 3304 Humidity 1.1 */
static const nb_resource_def nb_res_3304[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, NB_NAME("Min Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, NB_NAME("Max Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, NB_NAME("Min Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, NB_NAME("Max Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, NB_NAME("Reset Min and Max Measured Values"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL,
     NULL},
    {5700, NB_NAME("Sensor Value"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, NB_NAME("Sensor Units"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3305
/* 3305 Power Measurement 1.1 */
static const nb_resource_def nb_res_3305[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5605, NB_NAME("Reset Min and Max Measured Values"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL,
     NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5800, NB_NAME("Instantaneous active power"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL,
     NB_TEXT("W")},
    {5801, NB_NAME("Min Measured active power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("W")},
    {5802, NB_NAME("Max Measured active power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("W")},
    {5803, NB_NAME("Min Range active power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("W")},
    {5804, NB_NAME("Max Range active power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("W")},
    {5805, NB_NAME("Cumulative active power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("Wh")},
    {5806, NB_NAME("Active Power Calibration"), NB_OP_W, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("W")},
    {5810, NB_NAME("Instantaneous reactive power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("var")},
    {5811, NB_NAME("Min Measured reactive power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("var")},
    {5812, NB_NAME("Max Measured reactive power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("var")},
    {5813, NB_NAME("Min Range reactive power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("var")},
    {5814, NB_NAME("Max Range reactive power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("var")},
    {5815, NB_NAME("Cumulative reactive power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("varh")},
    {5816, NB_NAME("Reactive Power Calibration"), NB_OP_W, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("var")},
    {5820, NB_NAME("Power factor"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5821, NB_NAME("Current Calibration"), NB_OP_RW, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5822, NB_NAME("Reset Cumulative energy"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3306
/* 3306 Actuation 1.1 */
static const nb_resource_def nb_res_3306[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5850, NB_NAME("On/Off"), NB_OP_RW, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5851, NB_NAME("Dimmer"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"), NB_TEXT("/100")},
    {5852, NB_NAME("On time"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("s")},
    {5853, NB_NAME("Multi-state Output"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3308
/* 3308 Set Point 1.1 */
static const nb_resource_def nb_res_3308[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5701, NB_NAME("Sensor Units"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5706, NB_NAME("Colour"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5900, NB_NAME("Set Point Value"), NB_OP_RW, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3310
/* 3310 Load Control 1.1 */
static const nb_resource_def nb_res_3310[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5823, NB_NAME("Event Identifier"), NB_OP_RW, SINGLE, MAND, NB_VT_STRING, NULL, NULL},
    {5824, NB_NAME("Start Time"), NB_OP_RW, SINGLE, MAND, NB_VT_TIME, NULL, NULL},
    {5825, NB_NAME("Duration In Min"), NB_OP_RW, SINGLE, MAND, NB_VT_INT, NULL, NB_TEXT("min")},
    {5826, NB_NAME("Criticality Level"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..3"), NULL},
    {5827, NB_NAME("Avg Load AdjPct"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NB_TEXT("/100")},
    {5828, NB_NAME("Duty Cycle"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NB_TEXT("/100")},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3311
/* 3311 Light Control 1.0 */
static const nb_resource_def nb_res_3311[] = {
    {5701, NB_NAME("Sensor Units"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5706, NB_NAME("Colour"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5805, NB_NAME("Cumulative active power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("Wh")},
    {5820, NB_NAME("Power factor"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5850, NB_NAME("On/Off"), NB_OP_RW, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5851, NB_NAME("Dimmer"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"), NB_TEXT("/100")},
    {5852, NB_NAME("On time"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3312
/* 3312 Power Control 1.1 */
static const nb_resource_def nb_res_3312[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5805, NB_NAME("Cumulative active power"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL,
     NB_TEXT("Wh")},
    {5820, NB_NAME("Power factor"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5850, NB_NAME("On/Off"), NB_OP_RW, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5851, NB_NAME("Dimmer"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"), NB_TEXT("/100")},
    {5852, NB_NAME("On time"), NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, NB_TEXT("s")},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3313
/* 3313 Accelerometer 1.1 */
static const nb_resource_def nb_res_3313[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5603, NB_NAME("Min Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, NB_NAME("Max Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5701, NB_NAME("Sensor Units"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5702, NB_NAME("X Value"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5703, NB_NAME("Y Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5704, NB_NAME("Z Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3314
/* 3314 Magnetometer 1.1 */
static const nb_resource_def nb_res_3314[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5701, NB_NAME("Sensor Units"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5702, NB_NAME("X Value"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5703, NB_NAME("Y Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5704, NB_NAME("Z Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5705, NB_NAME("Compass Direction"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..360"),
     NB_TEXT("deg")},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3315
/* 3315 Barometer 1.1 */
static const nb_resource_def nb_res_3315[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, NB_NAME("Min Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, NB_NAME("Max Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, NB_NAME("Min Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, NB_NAME("Max Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, NB_NAME("Reset Min and Max Measured Values"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL,
     NULL},
    {5700, NB_NAME("Sensor Value"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, NB_NAME("Sensor Units"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3316
/* 3316 Voltage 1.1 */
static const nb_resource_def nb_res_3316[] = {
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, NB_NAME("Min Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, NB_NAME("Max Measured Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, NB_NAME("Min Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, NB_NAME("Max Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, NB_NAME("Reset Min and Max Measured Values"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL,
     NULL},
    {5700, NB_NAME("Sensor Value"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, NB_NAME("Sensor Units"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5821, NB_NAME("Current Calibration"), NB_OP_RW, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3334
/* 3334 Gyrometer 1.1 */
static const nb_resource_def nb_res_3334[] = {
    {5508, NB_NAME("Min X Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5509, NB_NAME("Max X Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5510, NB_NAME("Min Y Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5511, NB_NAME("Max Y Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5512, NB_NAME("Min Z Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5513, NB_NAME("Max Z Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5603, NB_NAME("Min Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, NB_NAME("Max Range Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, NB_NAME("Reset Min and Max Measured Values"), NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL,
     NULL},
    {5701, NB_NAME("Sensor Units"), NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5702, NB_NAME("X Value"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5703, NB_NAME("Y Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5704, NB_NAME("Z Value"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3336
/* 3336 Location 2.0 */
static const nb_resource_def nb_res_3336[] = {
    {5517, NB_NAME("Velocity"), NB_OP_R, SINGLE, OPT, NB_VT_OPAQUE, NULL, NULL},
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5705, NB_NAME("Compass Direction"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..360"),
     NB_TEXT("deg")},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, NB_NAME("Measurement Quality Indicator"), NB_OP_R, SINGLE, OPT, NB_VT_INT,
     NB_TEXT("0..23"), NULL},
    {6049, NB_NAME("Measurement Quality Level"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NB_TEXT("0..100"),
     NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
    {6051, NB_NAME("Numeric Latitude"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NB_TEXT("lat")},
    {6052, NB_NAME("Numeric Longitude"), NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NB_TEXT("lon")},
    {6053, NB_NAME("Numeric Uncertainty"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NB_TEXT("m")},
};
#endif

#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3347
/* 3347 Push button 1.1 */
static const nb_resource_def nb_res_3347[] = {
    {5500, NB_NAME("Digital Input State"), NB_OP_R, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5501, NB_NAME("Digital Input Counter"), NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {5518, NB_NAME("Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, NB_NAME("Application Type"), NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6050, NB_NAME("Fractional Timestamp"), NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NB_TEXT("0..1"),
     NB_TEXT("s")},
};
#endif

static const nb_object_def nb_builtin_objects[] = {
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_0
    {0, NB_NAME("LWM2M Security"), "1.2", NB_TEXT("urn:oma:lwm2m:oma:0:1.2"), MULTI, MAND, nb_res_0,
     NB_COUNT(nb_res_0), "1.1"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_1
    {1, NB_NAME("LwM2M Server"), "1.2", NB_TEXT("urn:oma:lwm2m:oma:1:1.2"), MULTI, MAND, nb_res_1,
     NB_COUNT(nb_res_1), "1.2"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_2
    {2, NB_NAME("LwM2M Access Control"), "1.1", NB_TEXT("urn:oma:lwm2m:oma:2:1.1"), MULTI, OPT,
     nb_res_2, NB_COUNT(nb_res_2), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3
    {3, NB_NAME("Device"), "1.2", NB_TEXT("urn:oma:lwm2m:oma:3:1.2"), SINGLE, MAND, nb_res_3,
     NB_COUNT(nb_res_3), "1.1"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_4
    {4, NB_NAME("Connectivity Monitoring"), "1.3", NB_TEXT("urn:oma:lwm2m:oma:4:1.3"), SINGLE, OPT,
     nb_res_4, NB_COUNT(nb_res_4), "1.1"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_5
    {5, NB_NAME("Firmware Update"), "1.2", NB_TEXT("urn:oma:lwm2m:oma:5:1.2"), SINGLE, OPT,
     nb_res_5, NB_COUNT(nb_res_5), "1.1"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_6
    {6, NB_NAME("Location"), "1.0", NB_TEXT("urn:oma:lwm2m:oma:6"), SINGLE, OPT, nb_res_6,
     NB_COUNT(nb_res_6), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_7
    {7, NB_NAME("Connectivity Statistics"), "1.0", NB_TEXT("urn:oma:lwm2m:oma:7"), SINGLE, OPT,
     nb_res_7, NB_COUNT(nb_res_7), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3200
    {3200, NB_NAME("Digital Input"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3200:1.1"), MULTI, OPT,
     nb_res_3200, NB_COUNT(nb_res_3200), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3201
    {3201, NB_NAME("Digital Output"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3201:1.1"), MULTI, OPT,
     nb_res_3201, NB_COUNT(nb_res_3201), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3202
    {3202, NB_NAME("Analog Input"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3202:1.1"), MULTI, OPT,
     nb_res_3202, NB_COUNT(nb_res_3202), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3203
    {3203, NB_NAME("Analog Output"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3203:1.1"), MULTI, OPT,
     nb_res_3203, NB_COUNT(nb_res_3203), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3300
    {3300, NB_NAME("Generic Sensor"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3300:1.1"), MULTI, OPT,
     nb_res_3300, NB_COUNT(nb_res_3300), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3301
    {3301, NB_NAME("Illuminance"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3301:1.1"), MULTI, OPT,
     nb_res_3301, NB_COUNT(nb_res_3301), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3302
    {3302, NB_NAME("Presence"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3302:1.1"), MULTI, OPT,
     nb_res_3302, NB_COUNT(nb_res_3302), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3303
    {3303, NB_NAME("Temperature"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3303:1.1"), MULTI, OPT,
     nb_res_3303, NB_COUNT(nb_res_3303), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3304
    {3304, NB_NAME("Humidity"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3304:1.1"), MULTI, OPT,
     nb_res_3304, NB_COUNT(nb_res_3304), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3305
    {3305, NB_NAME("Power Measurement"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3305:1.1"), MULTI, OPT,
     nb_res_3305, NB_COUNT(nb_res_3305), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3306
    {3306, NB_NAME("Actuation"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3306:1.1"), MULTI, OPT,
     nb_res_3306, NB_COUNT(nb_res_3306), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3308
    {3308, NB_NAME("Set Point"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3308:1.1"), MULTI, OPT,
     nb_res_3308, NB_COUNT(nb_res_3308), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3310
    {3310, NB_NAME("Load Control"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3310:1.1"), MULTI, OPT,
     nb_res_3310, NB_COUNT(nb_res_3310), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3311
    {3311, NB_NAME("Light Control"), "1.0", NB_TEXT("urn:oma:lwm2m:ext:3311"), MULTI, OPT,
     nb_res_3311, NB_COUNT(nb_res_3311), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3312
    {3312, NB_NAME("Power Control"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3312:1.1"), MULTI, OPT,
     nb_res_3312, NB_COUNT(nb_res_3312), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3313
    {3313, NB_NAME("Accelerometer"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3313:1.1"), MULTI, OPT,
     nb_res_3313, NB_COUNT(nb_res_3313), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3314
    {3314, NB_NAME("Magnetometer"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3314:1.1"), MULTI, OPT,
     nb_res_3314, NB_COUNT(nb_res_3314), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3315
    {3315, NB_NAME("Barometer"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3315:1.1"), MULTI, OPT,
     nb_res_3315, NB_COUNT(nb_res_3315), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3316
    {3316, NB_NAME("Voltage"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3316:1.1"), MULTI, OPT,
     nb_res_3316, NB_COUNT(nb_res_3316), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3334
    {3334, NB_NAME("Gyrometer"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3334:1.1"), MULTI, OPT,
     nb_res_3334, NB_COUNT(nb_res_3334), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3336
    {3336, NB_NAME("Location"), "2.0", NB_TEXT("urn:oma:lwm2m:ext:3336:2.0"), MULTI, OPT,
     nb_res_3336, NB_COUNT(nb_res_3336), "1.0"},
#endif
#if NB_CFG_OBJECTS_ALL || NB_CFG_OBJ_3347
    {3347, NB_NAME("Push button"), "1.1", NB_TEXT("urn:oma:lwm2m:ext:3347:1.1"), MULTI, OPT,
     nb_res_3347, NB_COUNT(nb_res_3347), "1.0"},
#endif
};

const nb_object_def *nb_objects_builtin(size_t *count) {
  *count = NB_COUNT(nb_builtin_objects);
  return nb_builtin_objects;
}
