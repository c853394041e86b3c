/* Built-in object definitions. Facts (IDs, names, operations, multiplicity, mandatory, type,
 * range, units, versions) follow the OMA LwM2M registry DDF file of each object, in the version
 * that registry holds (see the version columns of nb_builtin_objects): objects 0, 3, 4 and 5 in
 * their releases for LwM2M 1.1, object 1 in its LwM2M 1.2 release (the only one published
 * there), objects 2, 6 and 7 in their LwM2M 1.0 releases, which LwM2M 1.1 uses unchanged.
 * test_lwm2m_ddf compares every row with the registry files. */
#include "lwm2m/objects_builtin.h"

#define NB_COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* Column spellings that keep one resource per row readable. */
#define SINGLE false
#define MULTI true
#define MAND true
#define OPT false

/* 0 LWM2M Security 1.2 */
static const nb_resource_def nb_res_0[] = {
    {0, "LWM2M  Server URI", NB_OP_NONE, SINGLE, MAND, NB_VT_STRING, "0..255", NULL},
    {1, "Bootstrap-Server", NB_OP_NONE, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {2, "Security Mode", NB_OP_NONE, SINGLE, MAND, NB_VT_INT, "0..4", NULL},
    {3, "Public Key or Identity", NB_OP_NONE, SINGLE, MAND, NB_VT_OPAQUE, NULL, NULL},
    {4, "Server Public Key", NB_OP_NONE, SINGLE, MAND, NB_VT_OPAQUE, NULL, NULL},
    {5, "Secret Key", NB_OP_NONE, SINGLE, MAND, NB_VT_OPAQUE, NULL, NULL},
    {6, "SMS Security Mode", NB_OP_NONE, SINGLE, OPT, NB_VT_INT, "0..255", NULL},
    {7, "SMS Binding Key Parameters", NB_OP_NONE, SINGLE, OPT, NB_VT_OPAQUE, "6", NULL},
    {8, "SMS Binding Secret Key(s)", NB_OP_NONE, SINGLE, OPT, NB_VT_OPAQUE, "16,32,48", NULL},
    {9, "LwM2M Server SMS Number", NB_OP_NONE, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {10, "Short Server ID", NB_OP_NONE, SINGLE, OPT, NB_VT_INT, "1..65534", NULL},
    {11, "Client Hold Off Time", NB_OP_NONE, SINGLE, OPT, NB_VT_INT, NULL, "s"},
    {12, "Bootstrap-Server Account Timeout", NB_OP_NONE, SINGLE, OPT, NB_VT_INT, NULL, "s"},
    {13, "Matching Type", NB_OP_NONE, SINGLE, OPT, NB_VT_UINT, "0..3", NULL},
    {14, "SNI", NB_OP_NONE, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {15, "Certificate Usage", NB_OP_NONE, SINGLE, OPT, NB_VT_UINT, "0..3", NULL},
    {16, "DTLS/TLS Ciphersuite", NB_OP_NONE, MULTI, OPT, NB_VT_UINT, NULL, NULL},
    {17, "OSCORE Security Mode", NB_OP_NONE, SINGLE, OPT, NB_VT_OBJLNK, NULL, NULL},
    {18, "Groups To Use by Client", NB_OP_NONE, MULTI, OPT, NB_VT_UINT, "0..65535", NULL},
    {19, "Signature Algorithms Supported by Server", NB_OP_NONE, MULTI, OPT, NB_VT_UINT, "0..65535",
     NULL},
    {20, "Signature Algorithms To Use by Client", NB_OP_NONE, MULTI, OPT, NB_VT_UINT, "0..65535",
     NULL},
    {21, "Signature Algorithm Certs Supported by Server", NB_OP_NONE, MULTI, OPT, NB_VT_UINT,
     "0..65535", NULL},
    {22, "TLS 1.3 Features To Use by Client", NB_OP_NONE, SINGLE, OPT, NB_VT_UINT, "0..65535",
     NULL},
    {23, "TLS Extensions Supported by Server", NB_OP_NONE, SINGLE, OPT, NB_VT_UINT, "0..65535",
     NULL},
    {24, "TLS Extensions To Use by Client", NB_OP_NONE, SINGLE, OPT, NB_VT_UINT, "0..65535", NULL},
    {25, "Secondary LwM2M Server URI", NB_OP_NONE, MULTI, OPT, NB_VT_STRING, "0..255", NULL},
    {26, "MQTT Server", NB_OP_NONE, SINGLE, OPT, NB_VT_OBJLNK, NULL, NULL},
    {27, "LwM2M COSE Security", NB_OP_NONE, MULTI, OPT, NB_VT_OBJLNK, NULL, NULL},
    {28, "RDS Destination Port", NB_OP_NONE, SINGLE, OPT, NB_VT_INT, "0..15", NULL},
    {29, "RDS Source Port", NB_OP_NONE, SINGLE, OPT, NB_VT_INT, "0..15", NULL},
    {30, "RDS Application ID", NB_OP_NONE, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
};

/* 1 LwM2M Server 1.2 */
static const nb_resource_def nb_res_1[] = {
    {0, "Short Server ID", NB_OP_R, SINGLE, MAND, NB_VT_INT, "1..65534", NULL},
    {1, "Lifetime", NB_OP_RW, SINGLE, MAND, NB_VT_INT, NULL, "s"},
    {2, "Default Minimum Period", NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, "s"},
    {3, "Default Maximum Period", NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, "s"},
    {4, "Disable", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5, "Disable Timeout", NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, "s"},
    {6, "Notification Storing When Disabled or Offline", NB_OP_RW, SINGLE, MAND, NB_VT_BOOL, NULL,
     NULL},
    {7, "Binding", NB_OP_RW, SINGLE, MAND, NB_VT_STRING, NULL, NULL},
    {8, "Registration Update Trigger", NB_OP_E, SINGLE, MAND, NB_VT_NONE, NULL, NULL},
    {9, "Bootstrap-Request Trigger", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {10, "APN Link", NB_OP_RW, SINGLE, OPT, NB_VT_OBJLNK, NULL, NULL},
    {11, "TLS-DTLS Alert Code", NB_OP_R, SINGLE, OPT, NB_VT_UINT, "0..255", NULL},
    {12, "Last Bootstrapped", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {13, "Registration Priority Order", NB_OP_R, SINGLE, OPT, NB_VT_UINT, NULL, NULL},
    {14, "Initial Registration Delay Timer", NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL, "s"},
    {15, "Registration Failure Block", NB_OP_R, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
    {16, "Bootstrap on Registration Failure", NB_OP_R, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
    {17, "Communication Retry Count", NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL, NULL},
    {18, "Communication Retry Timer", NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL, "s"},
    {19, "Communication Sequence Delay Timer", NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL, "s"},
    {20, "Communication Sequence Retry Count", NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL, NULL},
    {21, "Trigger", NB_OP_RW, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
    {22, "Preferred Transport", NB_OP_RW, SINGLE, OPT, NB_VT_STRING,
     "The possible values are those listed in the LwM2M Core Specification", NULL},
    {23, "Mute Send", NB_OP_RW, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
    {24, "Alternate APN Links", NB_OP_RW, MULTI, OPT, NB_VT_OBJLNK, NULL, NULL},
    {25, "Supported Server Versions", NB_OP_RW, MULTI, OPT, NB_VT_STRING, NULL, NULL},
    {26, "Default Notification Mode", NB_OP_RW, SINGLE, OPT, NB_VT_INT, "0..1", NULL},
    {27, "Profile ID Hash Algorithm", NB_OP_RW, SINGLE, OPT, NB_VT_UINT, "0..255", NULL},
};

/* 2 LwM2M Access Control 1.1 */
static const nb_resource_def nb_res_2[] = {
    {0, "Object ID", NB_OP_R, SINGLE, MAND, NB_VT_INT, "1..65534", NULL},
    {1, "Object Instance ID", NB_OP_R, SINGLE, MAND, NB_VT_INT, "0..65535", NULL},
    {2, "ACL", NB_OP_RW, MULTI, OPT, NB_VT_INT, "0..31", NULL},
    {3, "Access Control Owner", NB_OP_RW, SINGLE, MAND, NB_VT_INT, "0..65535", NULL},
};

/* 3 Device 1.2 */
static const nb_resource_def nb_res_3[] = {
    {0, "Manufacturer", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {1, "Model Number", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {2, "Serial Number", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {3, "Firmware Version", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {4, "Reboot", NB_OP_E, SINGLE, MAND, NB_VT_NONE, NULL, NULL},
    {5, "Factory Reset", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {6, "Available Power Sources", NB_OP_R, MULTI, OPT, NB_VT_INT, "0..7", NULL},
    {7, "Power Source Voltage", NB_OP_R, MULTI, OPT, NB_VT_INT, NULL, NULL},
    {8, "Power Source Current", NB_OP_R, MULTI, OPT, NB_VT_INT, NULL, NULL},
    {9, "Battery Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", "/100"},
    {10, "Memory Free", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {11, "Error Code", NB_OP_R, MULTI, MAND, NB_VT_INT, "0..32", NULL},
    {12, "Reset Error Code", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {13, "Current Time", NB_OP_RW, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {14, "UTC Offset", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {15, "Timezone", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {16, "Supported Binding and Modes", NB_OP_R, SINGLE, MAND, NB_VT_STRING, NULL, NULL},
    {17, "Device Type", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {18, "Hardware Version", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {19, "Software Version", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {20, "Battery Status", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..6", NULL},
    {21, "Memory Total", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {22, "ExtDevInfo", NB_OP_R, MULTI, OPT, NB_VT_OBJLNK, NULL, NULL},
};

/* 4 Connectivity Monitoring 1.3 */
static const nb_resource_def nb_res_4[] = {
    {0, "Network Bearer", NB_OP_R, SINGLE, MAND, NB_VT_INT, "0..50", NULL},
    {1, "Available Network Bearer", NB_OP_R, MULTI, MAND, NB_VT_INT, "0..50", NULL},
    {2, "Radio Signal Strength", NB_OP_R, SINGLE, MAND, NB_VT_INT, NULL, "dBm"},
    {3, "Link Quality", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {4, "IP Addresses", NB_OP_R, MULTI, MAND, NB_VT_STRING, NULL, NULL},
    {5, "Router IP Addresses", NB_OP_R, MULTI, OPT, NB_VT_STRING, NULL, NULL},
    {6, "Link Utilization", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", "/100"},
    {7, "APN", NB_OP_R, MULTI, OPT, NB_VT_STRING, NULL, NULL},
    {8, "Cell ID", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {9, "SMNC", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..999", NULL},
    {10, "SMCC", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..999", NULL},
    {11, "SignalSNR", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, "dB"},
    {12, "LAC", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {13, "Coverage Enhancement Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..4", NULL},
};

/* 5 Firmware Update 1.2 */
static const nb_resource_def nb_res_5[] = {
    {0, "Package", NB_OP_W, SINGLE, MAND, NB_VT_OPAQUE, NULL, NULL},
    {1, "Package URI", NB_OP_RW, SINGLE, MAND, NB_VT_STRING, "0..255", NULL},
    {2, "Update", NB_OP_E, SINGLE, MAND, NB_VT_NONE, NULL, NULL},
    {3, "State", NB_OP_R, SINGLE, MAND, NB_VT_INT, "0..3", NULL},
    {5, "Update Result", NB_OP_R, SINGLE, MAND, NB_VT_INT, "0..11", NULL},
    {6, "PkgName", NB_OP_R, SINGLE, OPT, NB_VT_STRING, "0..255", NULL},
    {7, "PkgVersion", NB_OP_R, SINGLE, OPT, NB_VT_STRING, "0..255", NULL},
    {8, "Firmware Update Protocol Support", NB_OP_R, MULTI, OPT, NB_VT_INT, "0..5", NULL},
    {9, "Firmware Update Delivery Method", NB_OP_R, SINGLE, MAND, NB_VT_INT, "0..2", NULL},
    {10, "Cancel", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {11, "Severity", NB_OP_RW, SINGLE, OPT, NB_VT_INT, "0..2", NULL},
    {12, "Last State Change Time", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {13, "Maximum Defer Period", NB_OP_RW, SINGLE, OPT, NB_VT_UINT, NULL, "s"},
    {14, "Automatic Upgrade at Download", NB_OP_RW, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
};

/* 6 Location 1.0 */
static const nb_resource_def nb_res_6[] = {
    {0, "Latitude", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, "lat"},
    {1, "Longitude", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, "lon"},
    {2, "Altitude", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "m"},
    {3, "Radius", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "m"},
    {4, "Velocity", NB_OP_R, SINGLE, OPT, NB_VT_OPAQUE, NULL, NULL},
    {5, "Timestamp", NB_OP_R, SINGLE, MAND, NB_VT_TIME, NULL, NULL},
    {6, "Speed", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "m/s"},
};

/* 7 Connectivity Statistics 1.0 */
static const nb_resource_def nb_res_7[] = {
    {0, "SMS Tx Counter", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {1, "SMS Rx Counter", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {2, "Tx Data", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {3, "Rx Data", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {4, "Max Message Size", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, "B"},
    {5, "Average Message Size", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, "B"},
    {6, "Start", NB_OP_E, SINGLE, MAND, NB_VT_NONE, NULL, NULL},
    {7, "Stop", NB_OP_E, SINGLE, MAND, NB_VT_NONE, NULL, NULL},
    {8, "Collection Period", NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, "s"},
};

/* 3200 Digital Input 1.1 */
static const nb_resource_def nb_res_3200[] = {
    {5500, "Digital Input State", NB_OP_R, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5501, "Digital Input Counter", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {5502, "Digital Input Polarity", NB_OP_RW, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
    {5503, "Digital Input Debounce", NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, "ms"},
    {5504, "Digital Input Edge Selection", NB_OP_RW, SINGLE, OPT, NB_VT_INT, "1..3", NULL},
    {5505, "Digital Input Counter Reset", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5751, "Sensor Type", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3201 Digital Output 1.1 */
static const nb_resource_def nb_res_3201[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5550, "Digital Output State", NB_OP_RW, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5551, "Digital Output Polarity", NB_OP_RW, SINGLE, OPT, NB_VT_BOOL, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3202 Analog Input 1.1 */
static const nb_resource_def nb_res_3202[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5600, "Analog Input Current Value", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5601, "Min Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, "Max Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, "Min Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, "Max Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, "Reset Min and Max Measured Values", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5751, "Sensor Type", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3203 Analog Output 1.1 */
static const nb_resource_def nb_res_3203[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5603, "Min Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, "Max Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5650, "Analog Output Current Value", NB_OP_RW, SINGLE, MAND, NB_VT_FLOAT, "0..1", NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3300 Generic Sensor 1.1 */
static const nb_resource_def nb_res_3300[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, "Min Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, "Max Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, "Min Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, "Max Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, "Reset Min and Max Measured Values", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5700, "Sensor Value", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, "Sensor Units", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5751, "Sensor Type", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3301 Illuminance 1.1 */
static const nb_resource_def nb_res_3301[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, "Min Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, "Max Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, "Min Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, "Max Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, "Reset Min and Max Measured Values", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5700, "Sensor Value", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, "Sensor Units", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3302 Presence 1.1 */
static const nb_resource_def nb_res_3302[] = {
    {5500, "Digital Input State", NB_OP_R, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5501, "Digital Input Counter", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {5505, "Digital Input Counter Reset", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5751, "Sensor Type", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5903, "Busy to Clear delay", NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, "ms"},
    {5904, "Clear to Busy delay", NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, "ms"},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3303 Temperature 1.1 */
static const nb_resource_def nb_res_3303[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, "Min Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, "Max Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, "Min Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, "Max Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, "Reset Min and Max Measured Values", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5700, "Sensor Value", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, "Sensor Units", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3304 Humidity 1.1 */
static const nb_resource_def nb_res_3304[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, "Min Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, "Max Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, "Min Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, "Max Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, "Reset Min and Max Measured Values", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5700, "Sensor Value", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, "Sensor Units", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3305 Power Measurement 1.1 */
static const nb_resource_def nb_res_3305[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5605, "Reset Min and Max Measured Values", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5800, "Instantaneous active power", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, "W"},
    {5801, "Min Measured active power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "W"},
    {5802, "Max Measured active power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "W"},
    {5803, "Min Range active power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "W"},
    {5804, "Max Range active power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "W"},
    {5805, "Cumulative active power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "Wh"},
    {5806, "Active Power Calibration", NB_OP_W, SINGLE, OPT, NB_VT_FLOAT, NULL, "W"},
    {5810, "Instantaneous reactive power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "var"},
    {5811, "Min Measured reactive power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "var"},
    {5812, "Max Measured reactive power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "var"},
    {5813, "Min Range reactive power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "var"},
    {5814, "Max Range reactive power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "var"},
    {5815, "Cumulative reactive power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "varh"},
    {5816, "Reactive Power Calibration", NB_OP_W, SINGLE, OPT, NB_VT_FLOAT, NULL, "var"},
    {5820, "Power factor", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5821, "Current Calibration", NB_OP_RW, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5822, "Reset Cumulative energy", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3306 Actuation 1.1 */
static const nb_resource_def nb_res_3306[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5850, "On/Off", NB_OP_RW, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5851, "Dimmer", NB_OP_RW, SINGLE, OPT, NB_VT_INT, "0..100", "/100"},
    {5852, "On time", NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, "s"},
    {5853, "Multi-state Output", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3308 Set Point 1.1 */
static const nb_resource_def nb_res_3308[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5701, "Sensor Units", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5706, "Colour", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5900, "Set Point Value", NB_OP_RW, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3310 Load Control 1.1 */
static const nb_resource_def nb_res_3310[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5823, "Event Identifier", NB_OP_RW, SINGLE, MAND, NB_VT_STRING, NULL, NULL},
    {5824, "Start Time", NB_OP_RW, SINGLE, MAND, NB_VT_TIME, NULL, NULL},
    {5825, "Duration In Min", NB_OP_RW, SINGLE, MAND, NB_VT_INT, NULL, "min"},
    {5826, "Criticality Level", NB_OP_RW, SINGLE, OPT, NB_VT_INT, "0..3", NULL},
    {5827, "Avg Load AdjPct", NB_OP_RW, SINGLE, OPT, NB_VT_INT, "0..100", "/100"},
    {5828, "Duty Cycle", NB_OP_RW, SINGLE, OPT, NB_VT_INT, "0..100", "/100"},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3311 Light Control 1.0 */
static const nb_resource_def nb_res_3311[] = {
    {5701, "Sensor Units", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5706, "Colour", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5805, "Cumulative active power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "Wh"},
    {5820, "Power factor", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5850, "On/Off", NB_OP_RW, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5851, "Dimmer", NB_OP_RW, SINGLE, OPT, NB_VT_INT, "0..100", "/100"},
    {5852, "On time", NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, "s"},
};

/* 3312 Power Control 1.1 */
static const nb_resource_def nb_res_3312[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5805, "Cumulative active power", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "Wh"},
    {5820, "Power factor", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5850, "On/Off", NB_OP_RW, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5851, "Dimmer", NB_OP_RW, SINGLE, OPT, NB_VT_INT, "0..100", "/100"},
    {5852, "On time", NB_OP_RW, SINGLE, OPT, NB_VT_INT, NULL, "s"},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3313 Accelerometer 1.1 */
static const nb_resource_def nb_res_3313[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5603, "Min Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, "Max Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5701, "Sensor Units", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5702, "X Value", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5703, "Y Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5704, "Z Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3314 Magnetometer 1.1 */
static const nb_resource_def nb_res_3314[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5701, "Sensor Units", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5702, "X Value", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5703, "Y Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5704, "Z Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5705, "Compass Direction", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..360", "deg"},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3315 Barometer 1.1 */
static const nb_resource_def nb_res_3315[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, "Min Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, "Max Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, "Min Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, "Max Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, "Reset Min and Max Measured Values", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5700, "Sensor Value", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, "Sensor Units", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3316 Voltage 1.1 */
static const nb_resource_def nb_res_3316[] = {
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5601, "Min Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5602, "Max Measured Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5603, "Min Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, "Max Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, "Reset Min and Max Measured Values", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5700, "Sensor Value", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5701, "Sensor Units", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5821, "Current Calibration", NB_OP_RW, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3334 Gyrometer 1.1 */
static const nb_resource_def nb_res_3334[] = {
    {5508, "Min X Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5509, "Max X Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5510, "Min Y Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5511, "Max Y Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5512, "Min Z Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5513, "Max Z Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5603, "Min Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5604, "Max Range Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5605, "Reset Min and Max Measured Values", NB_OP_E, SINGLE, OPT, NB_VT_NONE, NULL, NULL},
    {5701, "Sensor Units", NB_OP_R, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {5702, "X Value", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, NULL},
    {5703, "Y Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5704, "Z Value", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

/* 3336 Location 2.0 */
static const nb_resource_def nb_res_3336[] = {
    {5517, "Velocity", NB_OP_R, SINGLE, OPT, NB_VT_OPAQUE, NULL, NULL},
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5705, "Compass Direction", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..360", "deg"},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6042, "Measurement Quality Indicator", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..23", NULL},
    {6049, "Measurement Quality Level", NB_OP_R, SINGLE, OPT, NB_VT_INT, "0..100", NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
    {6051, "Numeric Latitude", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, "lat"},
    {6052, "Numeric Longitude", NB_OP_R, SINGLE, MAND, NB_VT_FLOAT, NULL, "lon"},
    {6053, "Numeric Uncertainty", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, NULL, "m"},
};

/* 3347 Push button 1.1 */
static const nb_resource_def nb_res_3347[] = {
    {5500, "Digital Input State", NB_OP_R, SINGLE, MAND, NB_VT_BOOL, NULL, NULL},
    {5501, "Digital Input Counter", NB_OP_R, SINGLE, OPT, NB_VT_INT, NULL, NULL},
    {5518, "Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_TIME, NULL, NULL},
    {5750, "Application Type", NB_OP_RW, SINGLE, OPT, NB_VT_STRING, NULL, NULL},
    {6050, "Fractional Timestamp", NB_OP_R, SINGLE, OPT, NB_VT_FLOAT, "0..1", "s"},
};

static const nb_object_def nb_builtin_objects[] = {
    {0, "LWM2M Security", "1.2", "urn:oma:lwm2m:oma:0:1.2", MULTI, MAND, nb_res_0,
     NB_COUNT(nb_res_0), "1.1"},
    {1, "LwM2M Server", "1.2", "urn:oma:lwm2m:oma:1:1.2", MULTI, MAND, nb_res_1, NB_COUNT(nb_res_1),
     "1.2"},
    {2, "LwM2M Access Control", "1.1", "urn:oma:lwm2m:oma:2:1.1", MULTI, OPT, nb_res_2,
     NB_COUNT(nb_res_2), "1.0"},
    {3, "Device", "1.2", "urn:oma:lwm2m:oma:3:1.2", SINGLE, MAND, nb_res_3, NB_COUNT(nb_res_3),
     "1.1"},
    {4, "Connectivity Monitoring", "1.3", "urn:oma:lwm2m:oma:4:1.3", SINGLE, OPT, nb_res_4,
     NB_COUNT(nb_res_4), "1.1"},
    {5, "Firmware Update", "1.2", "urn:oma:lwm2m:oma:5:1.2", SINGLE, OPT, nb_res_5,
     NB_COUNT(nb_res_5), "1.1"},
    {6, "Location", "1.0", "urn:oma:lwm2m:oma:6", SINGLE, OPT, nb_res_6, NB_COUNT(nb_res_6), "1.0"},
    {7, "Connectivity Statistics", "1.0", "urn:oma:lwm2m:oma:7", SINGLE, OPT, nb_res_7,
     NB_COUNT(nb_res_7), "1.0"},
    {3200, "Digital Input", "1.1", "urn:oma:lwm2m:ext:3200:1.1", MULTI, OPT, nb_res_3200,
     NB_COUNT(nb_res_3200), "1.0"},
    {3201, "Digital Output", "1.1", "urn:oma:lwm2m:ext:3201:1.1", MULTI, OPT, nb_res_3201,
     NB_COUNT(nb_res_3201), "1.0"},
    {3202, "Analog Input", "1.1", "urn:oma:lwm2m:ext:3202:1.1", MULTI, OPT, nb_res_3202,
     NB_COUNT(nb_res_3202), "1.0"},
    {3203, "Analog Output", "1.1", "urn:oma:lwm2m:ext:3203:1.1", MULTI, OPT, nb_res_3203,
     NB_COUNT(nb_res_3203), "1.0"},
    {3300, "Generic Sensor", "1.1", "urn:oma:lwm2m:ext:3300:1.1", MULTI, OPT, nb_res_3300,
     NB_COUNT(nb_res_3300), "1.0"},
    {3301, "Illuminance", "1.1", "urn:oma:lwm2m:ext:3301:1.1", MULTI, OPT, nb_res_3301,
     NB_COUNT(nb_res_3301), "1.0"},
    {3302, "Presence", "1.1", "urn:oma:lwm2m:ext:3302:1.1", MULTI, OPT, nb_res_3302,
     NB_COUNT(nb_res_3302), "1.0"},
    {3303, "Temperature", "1.1", "urn:oma:lwm2m:ext:3303:1.1", MULTI, OPT, nb_res_3303,
     NB_COUNT(nb_res_3303), "1.0"},
    {3304, "Humidity", "1.1", "urn:oma:lwm2m:ext:3304:1.1", MULTI, OPT, nb_res_3304,
     NB_COUNT(nb_res_3304), "1.0"},
    {3305, "Power Measurement", "1.1", "urn:oma:lwm2m:ext:3305:1.1", MULTI, OPT, nb_res_3305,
     NB_COUNT(nb_res_3305), "1.0"},
    {3306, "Actuation", "1.1", "urn:oma:lwm2m:ext:3306:1.1", MULTI, OPT, nb_res_3306,
     NB_COUNT(nb_res_3306), "1.0"},
    {3308, "Set Point", "1.1", "urn:oma:lwm2m:ext:3308:1.1", MULTI, OPT, nb_res_3308,
     NB_COUNT(nb_res_3308), "1.0"},
    {3310, "Load Control", "1.1", "urn:oma:lwm2m:ext:3310:1.1", MULTI, OPT, nb_res_3310,
     NB_COUNT(nb_res_3310), "1.0"},
    {3311, "Light Control", "1.0", "urn:oma:lwm2m:ext:3311", MULTI, OPT, nb_res_3311,
     NB_COUNT(nb_res_3311), "1.0"},
    {3312, "Power Control", "1.1", "urn:oma:lwm2m:ext:3312:1.1", MULTI, OPT, nb_res_3312,
     NB_COUNT(nb_res_3312), "1.0"},
    {3313, "Accelerometer", "1.1", "urn:oma:lwm2m:ext:3313:1.1", MULTI, OPT, nb_res_3313,
     NB_COUNT(nb_res_3313), "1.0"},
    {3314, "Magnetometer", "1.1", "urn:oma:lwm2m:ext:3314:1.1", MULTI, OPT, nb_res_3314,
     NB_COUNT(nb_res_3314), "1.0"},
    {3315, "Barometer", "1.1", "urn:oma:lwm2m:ext:3315:1.1", MULTI, OPT, nb_res_3315,
     NB_COUNT(nb_res_3315), "1.0"},
    {3316, "Voltage", "1.1", "urn:oma:lwm2m:ext:3316:1.1", MULTI, OPT, nb_res_3316,
     NB_COUNT(nb_res_3316), "1.0"},
    {3334, "Gyrometer", "1.1", "urn:oma:lwm2m:ext:3334:1.1", MULTI, OPT, nb_res_3334,
     NB_COUNT(nb_res_3334), "1.0"},
    {3336, "Location", "2.0", "urn:oma:lwm2m:ext:3336:2.0", MULTI, OPT, nb_res_3336,
     NB_COUNT(nb_res_3336), "1.0"},
    {3347, "Push button", "1.1", "urn:oma:lwm2m:ext:3347:1.1", MULTI, OPT, nb_res_3347,
     NB_COUNT(nb_res_3347), "1.0"},
};

const nb_object_def *nb_objects_builtin(size_t *count) {
  *count = NB_COUNT(nb_builtin_objects);
  return nb_builtin_objects;
}
