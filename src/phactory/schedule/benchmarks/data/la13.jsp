# instance la13
# Lawrence 20x5 instance (Table 5, instance 3); also called (seth3) or (H3)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 20 5
 3 60 0 87 1 72 4 95 2 66
 1 54 0 48 2 39 3 35 4  5
 3 20 1 46 0 97 2 21 4 55
 2 37 0 59 3 19 1 34 4 46
 2 73 3 25 1 24 0 28 4 23
 1 78 3 28 2 83 0 45 4  5
 3 71 1 37 2 12 4 29 0 53
 4 12 3 33 1 55 2 87 0 38
 0 48 1 40 2 49 3 83 4  7
 0 90 4 27 2 65 3 17 1 23
 0 62 3 85 1 66 2 84 4 19
 3 59 2 46 4 13 1 64 0 25
 2 53 1 73 3 80 4 88 0 41
 2 57 4 47 0 14 1 67 3 74
 2 41 4 64 3 84 1 78 0 84
 4 52 3 28 2 26 0 63 1 46
 1 11 0 64 3 10 4 73 2 17
 4 38 3 95 0 85 1 97 2 67
 3 93 1 65 2 95 0 59 4 46
 0 60 1 85 2 43 4 85 3 32
