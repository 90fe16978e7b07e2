# instance la07
# Lawrence 15x5 instance (Table 4, instance 2); also called (setg2) or (G2)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 15 5
 0 47 4 57 1 71 3 96 2 14
 0 75 1 60 4 22 3 79 2 65
 3 32 0 33 2 69 1 31 4 58
 0 44 1 34 4 51 3 58 2 47
 3 29 1 44 0 62 2 17 4  8
 1 15 2 40 0 97 4 38 3 66
 2 58 1 39 0 57 4 20 3 50
 2 57 3 32 4 87 0 63 1 21
 4 56 0 84 2 90 1 85 3 61
 4 15 0 20 1 67 3 30 2 70
 4 84 0 82 1 23 2 45 3 38
 3 50 2 21 0 18 4 41 1 29
 4 16 1 52 0 52 2 38 3 54
 4 37 0 54 3 57 2 74 1 62
 4 57 1 61 0 81 2 30 3 68
